//! Which cache entries `pyship cache prune` removes: those last used more than
//! `--older-than` days ago, then the least recently used until the cache fits
//! `--max-size`; never one used since the oldest running pyship started (see
//! `store::usage` for why that keeps a concurrent build whole).

use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};

use super::kinds::{Entry, Kind};

/// What to remove, as the flags ask.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub older_than: Option<Duration>,
    pub max_size: Option<u64>,
}

/// The entries to remove, oldest use first. `floor` is the time before which an
/// entry's last use must lie for it to go at all.
pub fn select(
    entries: &[Entry],
    limits: Limits,
    now: SystemTime,
    floor: SystemTime,
) -> Vec<&Entry> {
    let mut candidates: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind != Kind::Scratch && e.used < floor)
        .collect();
    candidates.sort_by_key(|e| e.used);
    let cutoff = limits
        .older_than
        .map(|age| now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH));
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    let mut chosen = Vec::new();
    for entry in candidates {
        let too_old = cutoff.is_some_and(|cutoff| entry.used < cutoff);
        let too_big = limits.max_size.is_some_and(|max| total > max);
        if too_old || too_big {
            total -= entry.size;
            chosen.push(entry);
        }
    }
    chosen
}

/// A size as people write it: `500M`, `2G`, `1.5GiB`, `800k`, or bytes. K, M, G and T
/// are powers of 1024, as `du -h` and Docker's prune filters count.
pub fn parse_size(text: &str) -> Result<u64> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => bail!("{text:?} is not a size: write it like 500M or 2G"),
    };
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| anyhow::anyhow!("{text:?} is not a size: write it like 500M or 2G"))?;
    Ok((value * (1u64 << shift) as f64) as u64)
}

/// `--older-than` in days, fractions allowed (`0.5` is twelve hours).
pub fn parse_days(text: &str) -> Result<Duration> {
    let days: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|d: &f64| d.is_finite() && *d >= 0.0 && *d < 1e6)
        .ok_or_else(|| anyhow::anyhow!("{text:?} is not a number of days: write it like 30"))?;
    Ok(Duration::from_secs_f64(days * 86_400.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const DAY: Duration = Duration::from_secs(86_400);

    fn entry(name: &str, size: u64, age_days: u64, kind: Kind, now: SystemTime) -> Entry {
        Entry {
            path: PathBuf::from(name),
            size,
            used: now - DAY * age_days as u32,
            kind,
        }
    }

    #[test]
    fn sizes_and_days_read_as_people_write_them() {
        assert_eq!(parse_size("500M").unwrap(), 500 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("800k").unwrap(), 800 << 10);
        assert_eq!(parse_size("123").unwrap(), 123);
        for bad in ["", "G", "2X", "-1G", "1..2M", "NaNG"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_days("30").unwrap(), DAY * 30);
        assert_eq!(parse_days("0.5").unwrap(), DAY / 2);
        assert!(parse_days("-1").is_err() && parse_days("soon").is_err());
    }

    #[test]
    fn old_entries_go_then_the_least_recently_used_until_it_fits() {
        let now = SystemTime::now();
        let entries = vec![
            entry("old-wheel", 100, 40, Kind::Wheels, now),
            entry("old-record", 1, 35, Kind::Records, now),
            entry("mid-layer", 300, 10, Kind::Layers, now),
            entry("new-base", 500, 1, Kind::Bases, now),
            entry("scratch", 50, 90, Kind::Scratch, now),
        ];
        let names = |chosen: Vec<&Entry>| -> Vec<String> {
            chosen
                .iter()
                .map(|e| e.path.display().to_string())
                .collect()
        };
        let by_age = Limits {
            older_than: Some(DAY * 30),
            max_size: None,
        };
        assert_eq!(
            names(select(&entries, by_age, now, now)),
            ["old-wheel", "old-record"]
        );
        let by_size = Limits {
            older_than: None,
            max_size: Some(600),
        };
        assert_eq!(
            names(select(&entries, by_size, now, now)),
            ["old-wheel", "old-record", "mid-layer"],
            "951 bytes down to 550: the scratch file counts but is never removed"
        );
        // A build running for the last 20 days protects what it used since.
        let floor = now - DAY * 20;
        assert_eq!(
            names(select(&entries, by_size, now, floor)),
            ["old-wheel", "old-record"]
        );
    }
}
