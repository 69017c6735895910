//! The three ways to a resolution, in the order a build prefers them: the project's
//! lock, a resolution cached less than a day ago, the archive itself (and, when the
//! archive cannot be reached, a cached resolution of any age).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use reqwest::blocking::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::closure::{ClosureError, EXCLUDED, Universe};
use super::keyring::Keyring;
use super::lock::{BaseLock, LockedArchitecture, LockedPackage, spec_text};
use super::packages::{Candidate, Origin};
use super::release::Release;
use super::remote::{self, FetchError, Mirrors};
use super::{Request, Resolution};
use crate::store::http;
use crate::store::{Cache, Progress};

/// How long a cached resolution is used without asking the archive.
const FRESH_FOR: Duration = Duration::from_secs(24 * 60 * 60);
const RECORD_KIND: &str = "debian-resolution";

/// Runtime data a base needs beyond the interpreter: os-release, the CA bundle's
/// certificates, the zone database, /etc/services and /etc/protocols, MIME types.
const DATA_ROOTS: &[&str] = &[
    "base-files",
    "ca-certificates",
    "tzdata",
    "netbase",
    "media-types",
];

/// Libraries the manylinux policy (PEP 600) lets a wheel assume the system has, so
/// wheels link them without bundling them: C++ extensions (pyodbc, grpcio) need the
/// C++ runtime. `libgcc-s1` comes with libc6 already.
const WHEEL_ROOTS: &[&str] = &["libstdc++6"];

/// Which Python each suite carries, for the hint when a version is missing; the index
/// decides what a suite really carries.
const KNOWN_PYTHONS: &[(&str, (u64, u64))] = &[
    ("bullseye", (3, 9)),
    ("bookworm", (3, 11)),
    ("trixie", (3, 13)),
];

pub struct Settings {
    pub mirrors: Mirrors,
    /// `None`: read `PYSHIP_DEBIAN_KEYRING` (or the embedded keys) when first needed.
    pub keyring: Option<Keyring>,
}

impl Settings {
    pub fn from_env() -> Result<Settings> {
        Ok(Settings {
            mirrors: Mirrors::from_env(),
            keyring: None,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Cached {
    /// Seconds since the epoch.
    resolved_at: u64,
    resolution: Resolution,
}

pub fn resolve(
    req: &Request,
    settings: &Settings,
    client: &Client,
    cache: &Cache,
    progress: &Progress,
) -> Result<Resolution> {
    if let Some(path) = req.lock_file
        && !req.update_lock
        && let Some(lock) = BaseLock::read(path)?
    {
        return from_lock(req, &lock, &settings.mirrors);
    }
    let key = record_key(req, &settings.mirrors);
    let cached: Option<Cached> = cache.record(RECORD_KIND, &key);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let resolution = match cached {
        Some(cached)
            if !req.refresh && now.saturating_sub(cached.resolved_at) < FRESH_FOR.as_secs() =>
        {
            cached.resolution
        }
        cached => match from_archive(req, settings, client, cache, progress) {
            Ok(resolution) => {
                let record = Cached {
                    resolved_at: now,
                    resolution,
                };
                cache.put_record(RECORD_KIND, &key, &record)?;
                record.resolution
            }
            Err(FetchError::Unreachable { host, cause, .. }) if cached.is_some() => {
                let cached = cached.expect("matched Some");
                progress.warn(&format!(
                    "warning: cannot reach {host} ({cause}); using the deb:{} packages resolved {} hours ago",
                    req.spec.suite,
                    now.saturating_sub(cached.resolved_at) / 3600
                ));
                cached.resolution
            }
            Err(err) => return Err(err.into()),
        },
    };
    if req.update_lock
        && let Some(path) = req.lock_file
    {
        update_lock(req, path, &resolution)?;
    }
    Ok(resolution)
}

/// The record's name: every input that changes the answer.
fn record_key(req: &Request, mirrors: &Mirrors) -> String {
    let extra: BTreeSet<&String> = req.spec.extra.iter().collect();
    let text = format!(
        "{}\n{:?}\n{}\n{}\n{:?}\n{extra:?}",
        mirrors.main, mirrors.security, req.spec.suite, req.architecture, req.python
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn sorted_extra(req: &Request) -> Vec<String> {
    let set: BTreeSet<String> = req.spec.extra.iter().cloned().collect();
    set.into_iter().collect()
}

fn python_text((major, minor): (u64, u64)) -> String {
    format!("{major}.{minor}")
}

fn from_lock(req: &Request, lock: &BaseLock, mirrors: &Mirrors) -> Result<Resolution> {
    let python_differs = req.python.is_some_and(|p| python_text(p) != lock.python);
    if lock.suite != req.spec.suite || lock.extra != sorted_extra(req) || python_differs {
        let asked = spec_text(&req.spec.suite, &req.spec.extra);
        let (made, asked) = if python_differs {
            let wanted = python_text(req.python.expect("python_differs"));
            (
                format!("{} with Python {}", lock.spec(), lock.python),
                format!("{asked} with Python {wanted}"),
            )
        } else {
            (lock.spec(), asked)
        };
        bail!(
            "{} was made for {made}, not {asked}: run pyship build --lock-base to update it",
            super::lock::FILE_NAME
        );
    }
    let Some(arch) = lock.architectures.get(req.architecture) else {
        bail!(
            "{} has no packages for {}: run pyship build --lock-base to add them",
            super::lock::FILE_NAME,
            req.architecture
        );
    };
    let python = parse_python(&lock.python)
        .with_context(|| format!("{} names no valid python", super::lock::FILE_NAME))?;
    let from_security: BTreeSet<String> = arch
        .packages
        .iter()
        .filter(|p| Origin::from(p.origin) == Origin::Security)
        .map(|p| p.package.name.clone())
        .collect();
    Ok(Resolution {
        codename: lock.codename.clone(),
        release: arch.release.clone(),
        date: arch.date.clone(),
        python,
        interpreter: arch.interpreter.clone(),
        packages: arch.packages.iter().map(|p| p.package.clone()).collect(),
        omitted: arch.omitted.clone(),
        mirror: http::redact(&mirrors.main),
        security_mirror: (!from_security.is_empty())
            .then(|| mirrors.security.as_deref().map(http::redact))
            .flatten(),
        from_security,
    })
}

fn parse_python(text: &str) -> Option<(u64, u64)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Writes this architecture's part of the lock, keeping the others when the lock was
/// made for the same spec.
fn update_lock(req: &Request, path: &std::path::Path, res: &Resolution) -> Result<()> {
    let python = python_text(res.python);
    let extra = sorted_extra(req);
    let mut lock = match BaseLock::read(path).ok().flatten() {
        Some(old) if old.suite == req.spec.suite && old.extra == extra && old.python == python => {
            old
        }
        _ => BaseLock {
            version: 1,
            suite: req.spec.suite.clone(),
            codename: res.codename.clone(),
            extra,
            python,
            architectures: Default::default(),
        },
    };
    lock.codename = res.codename.clone();
    let packages = res
        .packages
        .iter()
        .map(|p| LockedPackage {
            package: p.clone(),
            origin: if res.from_security.contains(&p.name) {
                Origin::Security
            } else {
                Origin::Main
            }
            .into(),
        })
        .collect();
    lock.architectures.insert(
        req.architecture.to_owned(),
        LockedArchitecture {
            release: res.release.clone(),
            date: res.date.clone(),
            interpreter: res.interpreter.clone(),
            omitted: res.omitted.clone(),
            packages,
        },
    );
    lock.write(path)
}

/// Reads the suites from the archive and resolves the closure.
fn from_archive(
    req: &Request,
    settings: &Settings,
    client: &Client,
    cache: &Cache,
    progress: &Progress,
) -> Result<Resolution, FetchError> {
    let suite = &req.spec.suite;
    let mirrors = &settings.mirrors;
    let loaded;
    let keyring = match &settings.keyring {
        Some(keyring) => keyring,
        None => {
            loaded = Keyring::from_env()?;
            &loaded
        }
    };
    let mut candidates = Vec::new();
    let mut main_release = None;
    for ((name, origin), read) in read_suites(req, mirrors, keyring, client, cache, progress) {
        let base = mirrors.base(origin);
        let (release, found) = match read {
            Ok(read) => read,
            Err(FetchError::Missing) if main_release.is_none() => {
                return Err(anyhow::anyhow!(
                    "unknown Debian suite \"{suite}\" at {}: use a codename such as bookworm or trixie",
                    http::redact(base)
                )
                .into());
            }
            Err(FetchError::Missing) => {
                progress.warn(&format!(
                    "warning: {} has no {name} (its InRelease answered 404); going on without it",
                    http::redact(base)
                ));
                continue;
            }
            Err(err) => return Err(err),
        };
        candidates.extend(found);
        main_release.get_or_insert(release);
    }
    let release = main_release.expect("the main suite was read");
    let universe = Universe::new(candidates);
    let python = choose_python(req, &universe)?;
    let mut roots = vec![format!("python{}", python_text(python))];
    roots.extend(DATA_ROOTS.iter().map(|s| s.to_string()));
    roots.extend(WHEEL_ROOTS.iter().map(|s| s.to_string()));
    roots.extend(req.spec.extra.iter().cloned());
    let excluded: BTreeSet<String> = EXCLUDED
        .iter()
        .map(|s| s.to_string())
        .filter(|name| !req.spec.extra.contains(name))
        .collect();
    let closure = universe
        .closure(&roots, &excluded)
        .map_err(|err| closure_error(req, err))?;
    let from_security: BTreeSet<String> = closure
        .packages
        .iter()
        .filter(|c| c.origin == Origin::Security)
        .map(|c| c.package.name.clone())
        .collect();
    let codename = release.codename.clone().unwrap_or_else(|| suite.clone());
    let size: u64 = closure.packages.iter().map(|c| c.package.size).sum();
    progress.line(&format!(
        "deb:{suite} ({}) for {}: Python {}, {} packages, {:.1} MB",
        release.version.as_deref().unwrap_or(&codename),
        req.architecture,
        python_text(python),
        closure.packages.len(),
        size as f64 / 1e6
    ));
    Ok(Resolution {
        release: release.version.clone().unwrap_or_else(|| suite.clone()),
        codename,
        date: release.date.clone(),
        python,
        interpreter: format!("/usr/bin/python{}", python_text(python)),
        packages: closure.packages.into_iter().map(|c| c.package).collect(),
        omitted: closure.omitted,
        mirror: http::redact(&mirrors.main),
        security_mirror: (!from_security.is_empty())
            .then(|| mirrors.security.as_deref().map(http::redact))
            .flatten(),
        from_security,
    })
}

/// One suite as read: its verified release and the candidates of its index.
type SuiteRead = Result<(Release, Vec<Candidate>), FetchError>;

/// Each suite's verified release and its candidates, in the order of
/// [`Mirrors::suites`]: read side by side, since each is a round trip or two and the
/// main index a few seconds of download and parsing.
fn read_suites(
    req: &Request,
    mirrors: &Mirrors,
    keyring: &Keyring,
    client: &Client,
    cache: &Cache,
    progress: &Progress,
) -> Vec<((String, Origin), SuiteRead)> {
    let suites = mirrors.suites(&req.spec.suite);
    let reads: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = suites
            .iter()
            .map(|(name, origin)| {
                scope.spawn(move || {
                    let release = remote::release(client, mirrors, *origin, name, keyring)?;
                    let suite = remote::Suite {
                        name,
                        origin: *origin,
                        base: mirrors.base(*origin),
                        release: &release,
                    };
                    let found =
                        remote::packages(client, cache, &suite, req.architecture, progress)?;
                    Ok((release, found))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                thread.join().unwrap_or_else(|_| {
                    Err(anyhow::anyhow!("reading the Debian archive failed").into())
                })
            })
            .collect()
    });
    suites.into_iter().zip(reads).collect()
}

/// The requested Python if the suite carries it, else the one its `python3` depends on.
fn choose_python(req: &Request, universe: &Universe) -> Result<(u64, u64)> {
    let default = universe.newest("python3").and_then(|python3| {
        python3
            .depends
            .iter()
            .flat_map(|r| &r.alternatives)
            .find_map(|alt| alt.name.strip_prefix("python").and_then(parse_python))
    });
    let suite = &req.spec.suite;
    match (req.python, default) {
        (Some(wanted), _)
            if universe
                .newest(&format!("python{}", python_text(wanted)))
                .is_some() =>
        {
            Ok(wanted)
        }
        (Some(wanted), default) => {
            let carries = default.map_or("no Python 3".to_owned(), |d| {
                format!("Python {}", python_text(d))
            });
            let other = KNOWN_PYTHONS.iter().find(|(_, p)| *p == wanted).map_or(
                format!("a suite that carries Python {}", python_text(wanted)),
                |(name, p)| format!("deb:{name} (Python {})", python_text(*p)),
            );
            let pin = default.map_or(String::new(), |d| {
                format!(" or pin Python {}", python_text(d))
            });
            bail!(
                "deb:{suite} carries {carries}, not {}: use {other}{pin}",
                python_text(wanted)
            )
        }
        (None, Some(default)) => Ok(default),
        (None, None) => bail!(
            "deb:{suite} has no python3 package for {}: use a codename such as bookworm or trixie",
            req.architecture
        ),
    }
}

fn closure_error(req: &Request, err: ClosureError) -> anyhow::Error {
    let suite = &req.spec.suite;
    match err {
        ClosureError::UnknownRoot { name, close } => {
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(" (close: {})", close.join(", "))
            };
            anyhow::anyhow!(
                "deb:{suite} has no package \"{name}\" for {}: check the name at https://packages.debian.org/{suite}/{hint}",
                req.architecture
            )
        }
        ClosureError::Unsatisfiable { package, relation } => anyhow::anyhow!(
            "deb:{suite} cannot satisfy {package}'s dependency {relation} for {}: the suite's indexes are inconsistent; try again later or another mirror",
            req.architecture
        ),
    }
}
