//! pyship's own layers, above the base's: the runtime layer (the `app` user and the
//! venv's links to the base's interpreter) and the project layer (the service's files,
//! and the wheels of the project and the workspace members it needs, built from that
//! source). The dependency layer is `dependencies.rs`'s.

use anyhow::{Context, Result, bail};

use super::plan::Plan;
use crate::contract::{APP_DIR, APP_HOME, APP_UID, APP_USER, app_group_line, app_passwd_line};
use crate::oci::facts::BaseFacts;
use crate::oci::layer::{Content, Entry, Layer, Tree};
use crate::python::bytecode::{Compiler, Invalidation};
use crate::python::venv::Venv;
use crate::python::wheel;
use crate::store::{Cache, Progress};

/// What ties the image to its base: `/etc/passwd` and `/etc/group` with the `app` user
/// added, its home, and the venv's `pyvenv.cfg` and links to the base's interpreter.
pub fn runtime(facts: &BaseFacts, plan: &Plan, venv: &Venv, cache: &Cache) -> Result<Layer> {
    let epoch = plan.epoch;
    let mut tree = Tree::new();
    venv.skeleton(
        &mut tree,
        &plan.interpreter.path,
        &plan.deps.target.python_full,
        epoch,
    )?;
    let passwd = with_line(
        facts.passwd.as_deref(),
        APP_USER,
        &app_passwd_line(),
        UserDb::Passwd,
    )?;
    let group = with_line(
        facts.group.as_deref(),
        APP_USER,
        &app_group_line(),
        UserDb::Group,
    )?;
    tree.insert(
        "/etc/passwd",
        Entry::file(Content::Bytes(passwd.into_bytes()), epoch),
    )?;
    tree.insert(
        "/etc/group",
        Entry::file(Content::Bytes(group.into_bytes()), epoch),
    )?;
    let id = u64::from(APP_UID);
    tree.insert(APP_HOME, Entry::dir(epoch).owned_by(id, id))?;
    tree.write_layer(cache, epoch)
}

/// The two user databases the runtime layer edits.
#[derive(Debug, Clone, Copy)]
enum UserDb {
    Passwd,
    Group,
}

impl UserDb {
    fn file(self) -> &'static str {
        match self {
            UserDb::Passwd => "passwd",
            UserDb::Group => "group",
        }
    }

    /// What a base without the file is taken to have: only root.
    fn root_only(self) -> &'static str {
        match self {
            UserDb::Passwd => "root:x:0:0:root:/root:/bin/sh\n",
            UserDb::Group => "root:x:0:\n",
        }
    }
}

/// `existing` with `line` for `name` added, unless it is there already; a different
/// entry for the name, or another entry with the same id, is refused.
fn with_line(existing: Option<&str>, name: &str, line: &str, db: UserDb) -> Result<String> {
    let file = db.file();
    let mut text = existing.unwrap_or(db.root_only()).to_owned();
    let id = line.split(':').nth(2).unwrap_or("");
    for entry in text.lines() {
        let fields: Vec<&str> = entry.split(':').collect();
        if fields.first() == Some(&name) {
            if entry == line {
                return Ok(text);
            }
            bail!(
                "the base image already has an `{name}` entry in /etc/{file} that differs from pyship's ({entry}): use a base without it"
            );
        }
        if fields.get(2) == Some(&id) {
            bail!(
                "the base image already uses id {id} in /etc/{file} ({entry}): use a base without it"
            );
        }
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    Ok(text)
}

/// The project's files under /app, read-only for the runtime user, importable from the
/// venv, with their bytecode. Its pycs check their source's hash: a development setup
/// that mounts edited code over /app must not run the image's stale pycs.
pub fn project(
    plan: &Plan,
    venv: &Venv,
    compiler: Option<&Compiler>,
    cache: &Cache,
    progress: &Progress,
) -> Result<Layer> {
    let mut tree = Tree::new();
    tree.insert(APP_DIR, Entry::dir(plan.epoch))?;
    for path in plan.files.files() {
        let source = plan.files.root().join(path);
        let meta = std::fs::symlink_metadata(&source)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let dest = format!("{APP_DIR}/{path}");
        let entry = if meta.file_type().is_symlink() {
            Entry::symlink(&std::fs::read_link(&source)?.to_string_lossy(), mtime)
        } else if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0 {
            Entry::executable(Content::Path(source), mtime)
        } else {
            Entry::file(Content::Path(source), mtime)
        };
        tree.insert(&dest, entry)?;
    }
    for choice in &plan.local {
        wheel::install(&cache.blob_path(&choice.sha256), choice, venv, &mut tree)
            .with_context(|| format!("cannot install {} {}", choice.package, choice.version))?;
    }
    if !plan.project_is_built() {
        run_from_source(plan, venv, &mut tree)?;
    }
    // After the installs, so the local packages' modules get their bytecode too.
    if let Some(compiler) = compiler {
        compiler.compile_tree(&mut tree, APP_DIR, Invalidation::Checked, progress)?;
    }
    tree.write_layer(cache, plan.epoch)
}

/// A project pyship does not build into a wheel, as an installed distribution all the
/// same: a `.pth` putting its code in /app on `sys.path`, its metadata and its console
/// scripts; only the `.pth` for a project that says it is not a package.
fn run_from_source(plan: &Plan, venv: &Venv, tree: &mut Tree) -> Result<()> {
    let project = &plan.project;
    let dist = project.name.replace(['-', '.'], "_");
    let version = project.version.clone().unwrap_or_else(|| "0".into());
    let site = venv.site_packages();
    let file = |text: String| Entry::file(Content::Bytes(text.into_bytes()), plan.epoch);
    tree.insert(
        &format!("{site}/_{dist}.pth"),
        file(format!("{}\n", plan.files.import_dir(APP_DIR))),
    )?;
    if !project.package {
        // Poetry's package-mode = false: no distribution, only code run from /app.
        return Ok(());
    }
    let info = format!("{site}/{dist}-{version}.dist-info");
    tree.insert(
        &format!("{info}/METADATA"),
        file(format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {version}\n",
            project.name
        )),
    )?;
    tree.insert(&format!("{info}/INSTALLER"), file("pyship\n".to_owned()))?;
    if !project.scripts.is_empty() {
        let mut entry_points = String::from("[console_scripts]\n");
        for (name, target) in &project.scripts {
            entry_points.push_str(&format!("{name} = {target}\n"));
            let script = venv
                .console_script(target)
                .with_context(|| format!("[project.scripts] {name}"))?;
            tree.insert(
                &format!("{}/{name}", venv.bin_dir()),
                Entry::executable(Content::Bytes(script.into_bytes()), plan.epoch),
            )?;
        }
        tree.insert(&format!("{info}/entry_points.txt"), file(entry_points))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_app_user_once_and_refuses_clashes() {
        let base = "root:x:0:0:root:/root:/bin/bash\n";
        let line = "app:x:1001:1001:app:/home/app:/usr/sbin/nologin";
        let once = with_line(Some(base), "app", line, UserDb::Passwd).unwrap();
        assert!(once.ends_with(&format!("{line}\n")));
        assert_eq!(
            with_line(Some(&once), "app", line, UserDb::Passwd).unwrap(),
            once
        );
        let clash = "root:x:0:0::/:/bin/sh\nother:x:1001:1001::/:/bin/sh\n";
        assert!(
            with_line(Some(clash), "app", line, UserDb::Passwd)
                .unwrap_err()
                .to_string()
                .contains("id 1001")
        );
    }
}
