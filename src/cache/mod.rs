//! `pyship cache`: how big pyship's cache is and of what (`info`), and removing what
//! has not been used for a while or does not fit (`prune`), safe while builds run.

mod kinds;
mod prune;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::{Args, Subcommand};
use indicatif::HumanBytes;

use crate::build::Format;
use crate::store::Cache;
use crate::store::usage::{self, Exclusive};
use kinds::{Entry, Kind};

/// Show or prune pyship's cache: wheels, sdists, base images, built layers, records.
///
/// The cache is at $PYSHIP_CACHE_DIR, else $XDG_CACHE_HOME/pyship, else ~/.cache/pyship.
#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Count and size of the cache's files, by kind.
    Info {
        /// How to print: human lines, or one JSON object for scripts.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    Prune(PruneArgs),
}

/// Remove cache entries not used for a while, or the least recently used until the
/// cache fits a size. Safe while builds run: nothing used since the oldest running
/// pyship started goes, and a build marks each blob used before it relies on it.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("limit").required(true).multiple(true)))]
struct PruneArgs {
    /// Remove entries last used more than DAYS days ago (fractions allowed; 0: all
    /// that no running pyship has used).
    #[arg(long, value_name = "DAYS", value_parser = prune::parse_days, group = "limit")]
    older_than: Option<std::time::Duration>,

    /// Then remove the least recently used until the cache fits SIZE (500M, 2G; K, M,
    /// G, T are powers of 1024).
    #[arg(long, value_name = "SIZE", value_parser = prune::parse_size, group = "limit")]
    max_size: Option<u64>,

    /// List what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: CacheArgs) -> Result<ExitCode> {
    let root = Cache::default_root()?;
    match args.command {
        CacheCommand::Info { format } => info(&root, format),
        CacheCommand::Prune(prune) => prune_cache(&root, &prune),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Files and bytes of one kind.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
struct Tally {
    files: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, entry: &Entry) {
        self.files += 1;
        self.bytes += entry.size;
    }
}

fn tally<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> (BTreeMap<Kind, Tally>, Tally) {
    let mut kinds: BTreeMap<Kind, Tally> =
        Kind::ALL.iter().map(|k| (*k, Tally::default())).collect();
    let mut total = Tally::default();
    for entry in entries {
        kinds.entry(entry.kind).or_default().add(entry);
        total.add(entry);
    }
    (kinds, total)
}

fn info(root: &Path, format: Format) -> Result<()> {
    let entries = kinds::entries(root);
    let (kinds, total) = tally(&entries);
    if format == Format::Json {
        let kinds: BTreeMap<&str, Tally> = kinds.iter().map(|(k, t)| (k.name(), *t)).collect();
        println!(
            "{}",
            serde_json::json!({ "root": root, "kinds": kinds, "total": total })
        );
        return Ok(());
    }
    println!("cache    {}", root.display());
    for (kind, t) in &kinds {
        println!(
            "{:<8} {:>6} files {:>12}  {}",
            kind.name(),
            t.files,
            HumanBytes(t.bytes).to_string(),
            kind.describe()
        );
    }
    println!(
        "{:<8} {:>6} files {:>12}",
        "total",
        total.files,
        HumanBytes(total.bytes).to_string()
    );
    Ok(())
}

fn prune_cache(root: &Path, args: &PruneArgs) -> Result<()> {
    let limits = prune::Limits {
        older_than: args.older_than,
        max_size: args.max_size,
    };
    let now = SystemTime::now();
    if args.dry_run {
        let entries = kinds::entries(root);
        let chosen = prune::select(&entries, limits, now, usage::floor(root, now, false));
        for entry in &chosen {
            println!(
                "{:<8} {:>12}  last used {}  {}",
                entry.kind.name(),
                HumanBytes(entry.size).to_string(),
                when(entry.used),
                entry.path.display()
            );
        }
        report("would remove", &chosen, &entries);
        return Ok(());
    }
    if !root.is_dir() {
        println!("nothing to prune: there is no cache at {}", root.display());
        return Ok(());
    }
    let lock = Exclusive::take(root)?;
    let floor = lock.floor(now);
    let entries = kinds::entries(root);
    let mut removed = Vec::new();
    for entry in prune::select(&entries, limits, now, floor) {
        match lock.remove_if_unused(&entry.path, floor) {
            Ok(true) => removed.push(entry),
            Ok(false) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(anyhow::Error::from(err)
                    .context(format!("cannot remove {}", entry.path.display())));
            }
        }
    }
    drop(lock);
    report("removed", &removed, &entries);
    Ok(())
}

/// One line for what went (or would go) and one for what stays.
fn report(verb: &str, gone: &[&Entry], all: &[Entry]) {
    let (kinds, total) = tally(gone.iter().copied());
    let by_kind: Vec<String> = kinds
        .iter()
        .filter(|(_, t)| t.files > 0)
        .map(|(k, t)| format!("{} {}", k.name(), t.files))
        .collect();
    println!(
        "{verb} {} files, {}{}",
        total.files,
        HumanBytes(total.bytes),
        if by_kind.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_kind.join(", "))
        }
    );
    let (_, before) = tally(all);
    println!(
        "kept {} files, {}",
        before.files - total.files,
        HumanBytes(before.bytes - total.bytes)
    );
}

fn when(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time)
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| "?".to_owned())
}
