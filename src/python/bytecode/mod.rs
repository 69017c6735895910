//! Bytecode compiled at build time. A container with a read-only root filesystem can
//! never write `__pycache__`, so an image without pycs compiles every module it imports
//! at every start. pyship puts a pyc beside each `.py` it ships, in the same layer.
//!
//! The pycs come from the base's own interpreter (its magic number and marshal format
//! are the ones that will read them), run here from its own layers; failing that, from
//! a Python on this machine of the very same release. They are hash-based (PEP 552), so
//! no file time enters them, and each file is compiled alone with a fixed hash seed, so
//! the same sources give the same bytes on any machine.

mod kit;
mod worker;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use kit::Base;
use kit::Kit;
pub use kit::RECORD as KIT_RECORD;
use sha2::{Digest as _, Sha256};
use worker::{Job, Outcome};

use crate::oci::facts::Interpreter;
use crate::oci::layer::{Content, Entry, Tree};
use crate::store::{Cache, Progress};

/// The interpreter that compiles, as it describes itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `sys.version` on one line: the release and the build.
    pub version: String,
    /// X.Y.Z.
    pub release: String,
    /// The first four bytes of its pycs, in hex.
    pub magic: String,
    /// The tag in pyc names: `cpython-311`.
    pub cache_tag: String,
}

impl Identity {
    /// Asks the interpreter `command` starts.
    fn probe(mut command: Command) -> Result<Identity> {
        let out = command
            .args(worker::FLAGS)
            .args(["-c", worker::PROBE])
            .stdin(Stdio::null())
            .output()
            .context("cannot start it")?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!("{}: {}", out.status, err.lines().last().unwrap_or(""));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let [version, release, magic, cache_tag] = lines[..] else {
            bail!("it answered {text:?}");
        };
        Ok(Identity {
            version: version.to_owned(),
            release: release.to_owned(),
            magic: magic.to_owned(),
            cache_tag: cache_tag.to_owned(),
        })
    }
}

/// Whether the interpreter checks a pyc against its source before using it (PEP 552).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// Never: for sources nothing changes under the pyc, like an installed wheel's.
    Unchecked,
    /// At each import, by the source's hash: the pyc is still right when the source
    /// beside it is edited, or bind-mounted over in development.
    Checked,
}

/// The largest source compiled: bigger is generated data, not code worth a pyc.
const SOURCE_LIMIT: u64 = 16 << 20;

/// An interpreter that compiles bytecode for the image's Python.
pub struct Compiler {
    identity: Identity,
    runner: Runner,
    cache: Cache,
    /// The pycs this compiler made in this run, by path, source and invalidation: a
    /// multi-platform build compiles a file every platform ships only once.
    made: Mutex<HashMap<Made, Outcome>>,
}

/// What a pyc's bytes depend on besides the interpreter: where the source is (the
/// pyc records it), the source itself, and how it is invalidated.
type Made = (String, [u8; 32], bool);

enum Runner {
    /// The base's own, from the cache.
    Kit(Kit),
    /// One on this machine's PATH, of the base's exact release.
    Host(PathBuf),
}

impl Compiler {
    /// The base's own interpreter when it runs on this machine, else a Python on PATH of
    /// the same release; none, with a warning, when neither exists.
    pub fn find(
        base: &Base<'_>,
        interpreter: &Interpreter,
        cache: &Cache,
        progress: &Progress,
    ) -> Result<Option<Compiler>> {
        let why = match Kit::for_base(base, interpreter, cache)? {
            Ok(kit) => {
                return Ok(Some(Compiler {
                    identity: kit.identity.clone(),
                    runner: Runner::Kit(kit),
                    cache: cache.clone(),
                    made: Mutex::default(),
                }));
            }
            Err(why) => why,
        };
        let xy = format!("{}.{}", interpreter.major, interpreter.minor);
        let Some(release) = &interpreter.full else {
            progress.warn(&format!(
                "warning: {why}, and the base does not say which Python {xy} release it has: building without bytecode, so the service compiles its modules at every start"
            ));
            return Ok(None);
        };
        if let Some((program, identity)) = host_python(&xy, release) {
            progress.line(&format!(
                "note    {why}: compiling bytecode with {} (the same Python {release})",
                program.display()
            ));
            return Ok(Some(Compiler {
                identity,
                runner: Runner::Host(program),
                cache: cache.clone(),
                made: Mutex::default(),
            }));
        }
        progress.warn(&format!(
            "warning: {why}, and no python{xy} on PATH is {release}: building without bytecode, so the service compiles its modules at every start"
        ));
        Ok(None)
    }

    /// Makes this the compiler [`Compiler::find`] gives for `interpreter` in the base
    /// whose config is `config`, so that base is not read again for it.
    pub fn remember_for(
        &self,
        config: &crate::store::Digest,
        interpreter: &str,
        cache: &Cache,
    ) -> Result<()> {
        match &self.runner {
            Runner::Kit(kit) => kit.remember(config, interpreter, cache),
            Runner::Host(_) => Ok(()),
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Adds a pyc beside every `.py` file of `tree` below `dir`, in `__pycache__` as the
    /// interpreter looks for it; returns how many. A file the interpreter cannot compile
    /// (Python 2 syntax in a package's examples) gets none, as installers leave it.
    pub fn compile_tree(
        &self,
        tree: &mut Tree,
        dir: &str,
        invalidation: Invalidation,
        progress: &Progress,
    ) -> Result<usize> {
        let below = format!("{}/", dir.trim_matches('/'));
        let sources = tree.read_files(|path, size| {
            path.starts_with(&below) && path.ends_with(".py") && size <= SOURCE_LIMIT
        })?;
        let checked = invalidation == Invalidation::Checked;
        let paths: Vec<String> = sources.iter().map(|(path, _)| format!("/{path}")).collect();
        let keys: Vec<Made> = paths
            .iter()
            .zip(&sources)
            .map(|(path, (_, source))| (path.clone(), Sha256::digest(source).into(), checked))
            .collect();
        let mut outcomes: Vec<Option<Outcome>> = {
            let made = self.made.lock().expect("pyc memo");
            keys.iter().map(|key| made.get(key).cloned()).collect()
        };
        let reused = outcomes.iter().filter(|o| o.is_some()).count();
        let todo: Vec<usize> = (0..paths.len())
            .filter(|&n| outcomes[n].is_none())
            .collect();
        let jobs: Vec<Job<'_>> = todo
            .iter()
            .map(|&n| Job {
                path: &paths[n],
                source: &sources[n].1,
                checked,
            })
            .collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let fresh = worker::compile(&jobs, workers, &|| self.command()).with_context(|| {
            format!(
                "cannot compile bytecode with Python {}",
                self.identity.release
            )
        })?;
        {
            let mut made = self.made.lock().expect("pyc memo");
            for (&n, outcome) in todo.iter().zip(fresh) {
                made.insert(keys[n].clone(), outcome.clone());
                outcomes[n] = Some(outcome);
            }
        }
        let mut compiled = 0;
        for (path, outcome) in paths.iter().zip(outcomes) {
            if let Some(Ok(pyc)) = outcome {
                tree.insert(
                    &pyc_path(path, &self.identity.cache_tag),
                    Entry::file(Content::Bytes(pyc), 0),
                )?;
                compiled += 1;
            }
        }
        let reused = match reused {
            0 => String::new(),
            n => format!(", {n} compiled for another platform"),
        };
        progress.line(&format!(
            "pyc     {compiled} of {} modules in {dir} ({}{reused})",
            paths.len(),
            self.identity.cache_tag
        ));
        Ok(compiled)
    }

    /// A command that starts the interpreter, ready for its flags.
    fn command(&self) -> Result<Command> {
        let mut command = match &self.runner {
            Runner::Host(program) => {
                let mut command = Command::new(program);
                command.env_clear();
                command
            }
            Runner::Kit(kit) => kit.command(&kit.unpacked(&self.cache)?),
        };
        command.env("PYTHONHASHSEED", "0");
        Ok(command)
    }
}

/// What a cache key of compiled output must include: the interpreter, or that there is none.
pub fn cache_key(compiler: Option<&Compiler>) -> String {
    compiler.map_or_else(
        || "no bytecode".to_owned(),
        |c| {
            let id = c.identity();
            format!("{} {} {}", id.magic, id.cache_tag, id.version)
        },
    )
}

/// `dir/__pycache__/name.<tag>.pyc` for `dir/name.py`, as `importlib.util.cache_from_source`.
fn pyc_path(source: &str, cache_tag: &str) -> String {
    let (dir, name) = source.rsplit_once('/').unwrap_or(("", source));
    let stem = name.strip_suffix(".py").unwrap_or(name);
    format!("{dir}/__pycache__/{stem}.{cache_tag}.pyc")
}

/// The first `python{xy}` or `python3` on PATH that is exactly `release`.
fn host_python(xy: &str, release: &str) -> Option<(PathBuf, Identity)> {
    let path = std::env::var_os("PATH")?;
    let mut tried = BTreeSet::new();
    for dir in std::env::split_paths(&path) {
        for name in [format!("python{xy}"), "python3".to_owned()] {
            let program = dir.join(name);
            let Ok(real) = program.canonicalize() else {
                continue;
            };
            if !tried.insert(real) {
                continue;
            }
            let mut command = Command::new(&program);
            command.env_clear();
            if let Ok(identity) = Identity::probe(command)
                && identity.release == release
            {
                return Some((program, identity));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::platform::ImagePlatform;
    use crate::store::Digest;

    #[test]
    fn pycs_go_in_pycache_beside_their_source() {
        assert_eq!(
            pyc_path("/app/app/main.py", "cpython-311"),
            "/app/app/__pycache__/main.cpython-311.pyc"
        );
        assert_eq!(
            pyc_path("/a/b.c.py", "cpython-312"),
            "/a/__pycache__/b.c.cpython-312.pyc"
        );
    }

    /// The Python that a foreign-architecture base falls back to: this machine's
    /// python3, whatever release it is.
    fn host_release() -> (String, String) {
        let mut command = Command::new("python3");
        command.env_clear();
        let id = Identity::probe(command).expect("python3 on PATH");
        let xy = id.release.rsplit_once('.').unwrap().0.to_owned();
        (xy, id.release)
    }

    fn foreign_base(digest: &Digest) -> Base<'_> {
        let foreign = if std::env::consts::ARCH == "x86_64" {
            ImagePlatform::Arm64
        } else {
            ImagePlatform::Amd64
        };
        Base {
            config_digest: digest,
            platform: foreign,
            layers: &|_| panic!("a foreign base's layers are not read for its Python"),
        }
    }

    #[test]
    fn a_foreign_base_compiles_with_the_same_release_here_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path().to_path_buf()).unwrap();
        let digest = Digest::of(b"config");
        let (xy, release) = host_release();
        let (major, minor) = xy.split_once('.').unwrap();
        let interpreter = |full: &str| Interpreter {
            path: format!("/usr/bin/python{xy}"),
            major: major.parse().unwrap(),
            minor: minor.parse().unwrap(),
            full: Some(full.to_owned()),
        };
        let progress = Progress::new(true);
        let found = Compiler::find(
            &foreign_base(&digest),
            &interpreter(&release),
            &cache,
            &progress,
        )
        .unwrap()
        .expect("this machine's python3 stands in");
        assert_eq!(found.identity().release, release);
        assert!(matches!(found.runner, Runner::Host(_)));

        let mut tree = Tree::new();
        tree.insert(
            "/app/m.py",
            Entry::file(Content::Bytes(b"x = 1\n".to_vec()), 0),
        )
        .unwrap();
        assert_eq!(
            found
                .compile_tree(&mut tree, "/app", Invalidation::Checked, &progress)
                .unwrap(),
            1
        );
        let pyc = format!("/app/__pycache__/m.{}.pyc", found.identity().cache_tag);
        assert!(tree.contains(&pyc), "no {pyc}");

        let other = Compiler::find(
            &foreign_base(&digest),
            &interpreter(&format!("{xy}.999")),
            &cache,
            &progress,
        )
        .unwrap();
        assert!(other.is_none(), "another release must not compile");
        assert_eq!(cache_key(None), "no bytecode");
    }
}
