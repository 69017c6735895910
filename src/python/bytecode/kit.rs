//! The base image's own Python, lifted out of its layers so the build machine can run
//! it: the interpreter, the dynamic loader it names, the shared libraries it needs
//! (followed through DT_NEEDED, as the loader would), and the stdlib files it reads at
//! start-up. The kit is one uncompressed tar in the cache, remembered by the base's
//! config digest and the interpreter's path, so each base is read for it once. It is
//! unpacked once too, next to the cache's blobs, and the interpreter always starts
//! through the kit's own loader, never with the build machine's libraries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Identity;
use crate::oci::facts::Interpreter;
use crate::oci::platform::ImagePlatform;
use crate::oci::walk::{ReadLayers, Walk};
use crate::store::{Cache, Digest};

/// The base a kit comes from: its config digest, its platform, and its layers.
pub struct Base<'a> {
    pub config_digest: &'a Digest,
    pub platform: ImagePlatform,
    pub layers: ReadLayers<'a>,
}

/// A kit in the cache, ready to unpack and run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kit {
    blob: Digest,
    python_xy: String,
    /// musl's loader takes `--library-path` but not glibc's `--inhibit-cache`.
    musl: bool,
    pub identity: Identity,
}

/// What the cache remembers for a base's interpreter: its kit, or why it has none.
#[derive(Debug, Serialize, Deserialize)]
enum Record {
    Ready(Kit),
    Unusable(String),
}

/// The records naming each base interpreter's kit blob (`cache info` reads them too).
pub const RECORD: &str = "python-kit-v1";

/// Where unpacked kits are, in the cache.
const KITS: &str = "kits";

/// Where things are inside a kit.
const LOADER: &str = "loader";
const LIBS: &str = "libs";
const HOME: &str = "home";

impl Kit {
    /// The kit of `interpreter` in `base`, built on first use; `Err` says why the base's
    /// own interpreter cannot run on this machine.
    pub fn for_base(
        base: &Base<'_>,
        interpreter: &Interpreter,
        cache: &Cache,
    ) -> Result<std::result::Result<Kit, String>> {
        if !runs_here(base.platform) {
            return Ok(Err(format!(
                "the base's Python is for linux/{}, which cannot run on this {} machine",
                base.platform.oci_arch(),
                std::env::consts::ARCH
            )));
        }
        let key = record_key(base.config_digest, &interpreter.path);
        match cache.record::<Record>(RECORD, &key) {
            Some(Record::Ready(kit)) if cache.has_blob(&kit.blob) => return Ok(Ok(kit)),
            Some(Record::Unusable(reason)) => return Ok(Err(reason)),
            _ => {}
        }
        let record = match build(base, interpreter, cache)? {
            Built::Ready(kit) => Record::Ready(kit),
            Built::Unusable(reason) => Record::Unusable(reason),
            // Not remembered: the next build tries again, on a machine that may let it.
            Built::DoesNotStart(reason) => return Ok(Err(reason)),
        };
        cache.put_record(RECORD, &key, &record)?;
        Ok(match record {
            Record::Ready(kit) => Ok(kit),
            Record::Unusable(reason) => Err(reason),
        })
    }

    /// Makes this the kit of `interpreter` in the base whose config is `config`: a base
    /// pyship assembled itself is known without reading its layers back.
    pub fn remember(&self, config: &Digest, interpreter: &str, cache: &Cache) -> Result<()> {
        let record = Record::Ready(self.clone());
        cache.put_record(RECORD, &record_key(config, interpreter), &record)
    }

    /// The directory the kit is unpacked in: `kits/<blob>` in the cache, unpacked in
    /// scratch space and renamed there whole, so it exists only complete. Unpacking
    /// costs a build more than compiling its project does, hence once per kit.
    pub fn unpacked(&self, cache: &Cache) -> Result<PathBuf> {
        let dir = cache.root().join(KITS).join(self.blob.hex());
        if dir.is_dir() {
            return Ok(dir);
        }
        let scratch = tempfile::Builder::new()
            .prefix(".kit")
            .tempdir_in(cache.root().join("tmp"))
            .context("cannot create a scratch directory in the cache")?;
        tar::Archive::new(cache.open_blob(&self.blob)?)
            .unpack(scratch.path())
            .context("cannot unpack the base's Python from the cache")?;
        std::fs::create_dir_all(cache.root().join(KITS))?;
        // Another build may have renamed its own copy first: then that one is used.
        if std::fs::rename(scratch.path(), &dir).is_err() && !dir.is_dir() {
            anyhow::bail!("cannot move the base's Python into {}", dir.display());
        }
        Ok(dir)
    }

    /// The command that starts the kit's interpreter, unpacked at `dir`, through its own
    /// loader and libraries, with nothing from the environment but what is set here.
    pub fn command(&self, dir: &Path) -> Command {
        let mut command = Command::new(dir.join(LOADER));
        if !self.musl {
            command.arg("--inhibit-cache");
        }
        command
            .arg("--library-path")
            .arg(dir.join(LIBS))
            .arg(
                dir.join(HOME)
                    .join("bin")
                    .join(format!("python{}", self.python_xy)),
            )
            .env_clear()
            .env("PYTHONHOME", dir.join(HOME));
        command
    }
}

fn record_key(config: &Digest, interpreter: &str) -> String {
    format!(
        "{}-{}",
        config.hex(),
        &Digest::of(interpreter.as_bytes()).hex()[..16]
    )
}

/// True when this machine runs Linux programs of the platform's architecture natively.
fn runs_here(platform: ImagePlatform) -> bool {
    cfg!(target_os = "linux") && std::env::consts::ARCH == platform.machine()
}

/// What reading a base for its kit gave.
enum Built {
    Ready(Kit),
    /// The base lacks what the interpreter needs: so it stays.
    Unusable(String),
    /// Complete, but it did not start on this machine (a cache on a `noexec` mount, a
    /// sandbox): that may change.
    DoesNotStart(String),
}

/// Reads the base for the kit, packs it into the cache and checks that it starts.
fn build(base: &Base<'_>, interpreter: &Interpreter, cache: &Cache) -> Result<Built> {
    let xy = format!("{}.{}", interpreter.major, interpreter.minor);
    let scratch = tempfile::Builder::new()
        .prefix(".kitscan")
        .tempdir_in(cache.root().join("tmp"))?;
    let mut scan = Scan::new(scratch, &xy, base.platform);
    let mut walk = Walk::default();
    (base.layers)(&mut |stream| {
        walk.layer(stream, |path, layer, entry| scan.visit(path, layer, entry))
    })?;
    scan.keep_surviving(&walk);
    let parts = match scan.parts(&interpreter.path) {
        Ok(parts) => parts,
        Err(reason) => return Ok(Built::Unusable(reason)),
    };
    let (blob, _) = cache.write_blob(None, |out| parts.write_tar(&scan, out))?;
    let mut kit = Kit {
        blob,
        python_xy: xy,
        musl: parts.loader.contains("ld-musl"),
        identity: Identity::default(),
    };
    let dir = kit.unpacked(cache)?;
    match Identity::probe(kit.command(&dir)) {
        Ok(identity) => kit.identity = identity,
        Err(err) => {
            return Ok(Built::DoesNotStart(format!(
                "the base's Python {} does not start on this machine ({err:#})",
                interpreter.path
            )));
        }
    }
    Ok(Built::Ready(kit))
}

/// Where interpreters built for an image keep their libraries, found through RUNPATH.
const INTERPRETER_LIBRARY_DIRS: &[&str] = &["opt/python/lib"];

/// The directories the loader searches by default, in its order, for an architecture.
fn library_dirs(platform: ImagePlatform) -> Vec<String> {
    let triplet = format!("{}-linux-gnu", platform.machine());
    vec![
        format!("lib/{triplet}"),
        format!("usr/lib/{triplet}"),
        "lib64".into(),
        "usr/lib64".into(),
        "lib".into(),
        "usr/lib".into(),
        "usr/local/lib".into(),
        "usr/local/lib64".into(),
    ]
}

/// The candidate files of the merged filesystem: copied to scratch as the layers are
/// read (a later layer's copy replaces an earlier one's), with every link, so that the
/// interpreter and its libraries can be resolved once all layers are applied.
struct Scan {
    scratch: tempfile::TempDir,
    python_xy: String,
    library_dirs: Vec<String>,
    files: BTreeMap<String, usize>,
    links: BTreeMap<String, (usize, String)>,
}

impl Scan {
    fn new(scratch: tempfile::TempDir, python_xy: &str, platform: ImagePlatform) -> Scan {
        Scan {
            scratch,
            python_xy: python_xy.to_owned(),
            library_dirs: library_dirs(platform),
            files: BTreeMap::new(),
            links: BTreeMap::new(),
        }
    }

    fn visit<R: Read>(
        &mut self,
        path: &str,
        layer: usize,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name()?.map(|l| l.to_string_lossy().into_owned());
            let Some(mut target) = target else {
                return Ok(());
            };
            // A hard link names another path of the image, from its root.
            if kind.is_hard_link() {
                target = format!("/{target}");
            }
            self.links.insert(path.to_owned(), (layer, target));
        } else if kind.is_file() && self.wanted(path) {
            let dest = self.scratch.path().join(path);
            std::fs::create_dir_all(dest.parent().expect("a file has a parent"))?;
            let mut file = std::fs::File::create(&dest)?;
            std::io::copy(entry, &mut file)?;
            self.files.insert(path.to_owned(), layer);
        }
        Ok(())
    }

    /// Interpreters, shared libraries in the loader's directories, and the stdlib's
    /// top-level modules and codecs (all a bare interpreter imports to start).
    fn wanted(&self, path: &str) -> bool {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name.starts_with("python") && dir.ends_with("bin") {
            return true;
        }
        let library_dir =
            self.library_dirs.iter().any(|d| d == dir) || INTERPRETER_LIBRARY_DIRS.contains(&dir);
        if name.contains(".so") && library_dir {
            return true;
        }
        let stdlib = format!("lib/python{}", self.python_xy);
        let rest = dir.strip_suffix("/encodings").unwrap_or(dir);
        name.ends_with(".py") && (rest.ends_with(&format!("/{stdlib}")) || rest == stdlib)
    }

    fn keep_surviving(&mut self, walk: &Walk) {
        self.files.retain(|path, layer| walk.survives(path, *layer));
        self.links
            .retain(|path, (layer, _)| walk.survives(path, *layer));
    }

    /// Where `path` really is: every link along it followed, as the kernel would.
    fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: VecDeque<String> = path.split('/').map(str::to_owned).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => done.push(part),
            }
            let Some((_, target)) = self.links.get(&done.join("/")) else {
                continue;
            };
            hops += 1;
            if hops > 40 {
                return None;
            }
            done.pop();
            if target.starts_with('/') {
                done.clear();
            }
            for part in target.split('/').rev() {
                pending.push_front(part.to_owned());
            }
        }
        Some(done.join("/"))
    }

    /// The regular file `path` resolves to, if the scan kept it.
    fn file(&self, path: &str) -> Option<String> {
        self.resolve(path)
            .filter(|real| self.files.contains_key(real))
    }

    fn elf(&self, real: &str) -> std::result::Result<Elf, String> {
        let bytes =
            std::fs::read(self.scratch.path().join(real)).map_err(|e| format!("/{real}: {e}"))?;
        let elf = goblin::elf::Elf::parse(&bytes)
            .map_err(|e| format!("/{real} is not a program this machine runs ({e})"))?;
        Ok(Elf {
            interpreter: elf.interpreter.map(str::to_owned),
            needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
            runpaths: elf
                .runpaths
                .iter()
                .chain(&elf.rpaths)
                .map(|s| (*s).to_owned())
                .collect(),
        })
    }

    /// The interpreter at `path` and everything it needs to start.
    fn parts(&self, path: &str) -> std::result::Result<Parts, String> {
        let python = self
            .file(path)
            .ok_or_else(|| format!("{path} is not a file in the base"))?;
        let elf = self.elf(&python)?;
        let loader_path = elf
            .interpreter
            .clone()
            .ok_or_else(|| format!("{path} names no dynamic loader"))?;
        let loader = self
            .file(&loader_path)
            .ok_or_else(|| format!("the loader {loader_path} of {path} is not in the base"))?;
        let origin = path
            .trim_start_matches('/')
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .to_owned();
        let mut dirs: Vec<String> = elf
            .runpaths
            .iter()
            .flat_map(|r| r.split(':'))
            .map(|d| {
                d.replace("$ORIGIN", &format!("/{origin}"))
                    .replace("${ORIGIN}", &format!("/{origin}"))
            })
            .collect();
        dirs.extend(self.library_dirs.iter().cloned());
        let mut libs = BTreeMap::new();
        let mut queue: VecDeque<String> = elf.needed.into();
        while let Some(soname) = queue.pop_front() {
            if libs.contains_key(&soname) {
                continue;
            }
            let real = dirs
                .iter()
                .find_map(|dir| self.file(&format!("{dir}/{soname}")))
                .ok_or_else(|| {
                    format!("{path} needs {soname}, which is not in the base's library directories")
                })?;
            queue.extend(self.elf(&real)?.needed);
            libs.insert(soname, real);
        }
        let prefix = origin.strip_suffix("bin").unwrap_or(&origin);
        let stdlib = format!("{prefix}lib/python{}", self.python_xy);
        let stdlib = self
            .resolve(&stdlib)
            .ok_or_else(|| format!("/{stdlib} is not in the base"))?;
        let stdlib_files = self
            .files
            .keys()
            .filter_map(|f| {
                f.strip_prefix(&format!("{stdlib}/"))
                    .map(|rest| (rest.to_owned(), f.clone()))
            })
            .collect::<BTreeMap<_, _>>();
        if !stdlib_files.contains_key("encodings/__init__.py") {
            return Err(format!(
                "/{stdlib} has no encodings package, without which Python cannot start"
            ));
        }
        Ok(Parts {
            python,
            loader,
            libs,
            stdlib: stdlib_files,
        })
    }
}

/// What the loader reads of an ELF file.
struct Elf {
    interpreter: Option<String>,
    needed: Vec<String>,
    runpaths: Vec<String>,
}

/// The files of a kit, each by its real path in the scan.
struct Parts {
    python: String,
    loader: String,
    /// Soname → file.
    libs: BTreeMap<String, String>,
    /// Path under the stdlib directory → file.
    stdlib: BTreeMap<String, String>,
}

impl Parts {
    fn write_tar(&self, scan: &Scan, out: &mut dyn std::io::Write) -> Result<()> {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        let xy = &scan.python_xy;
        let mut entries: Vec<(String, &String, u32)> = vec![
            (LOADER.to_owned(), &self.loader, 0o755),
            (format!("{HOME}/bin/python{xy}"), &self.python, 0o755),
        ];
        entries.extend(
            self.libs
                .iter()
                .map(|(name, real)| (format!("{LIBS}/{name}"), real, 0o644)),
        );
        entries.extend(
            self.stdlib
                .iter()
                .map(|(rest, real)| (format!("{HOME}/lib/python{xy}/{rest}"), real, 0o644)),
        );
        let mut dirs = BTreeSet::new();
        for (name, real, mode) in entries {
            for (at, _) in name.match_indices('/') {
                if dirs.insert(name[..at].to_owned()) {
                    let mut header = tar::Header::new_gnu();
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{}/", &name[..at]), std::io::empty())?;
                }
            }
            let file = std::fs::File::open(scan.scratch.path().join(real))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(file.metadata()?.len());
            header.set_mode(mode);
            tar.append_data(&mut header, &name, file)?;
        }
        tar.into_inner()?.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(links: &[(&str, &str)], files: &[&str]) -> Scan {
        let mut scan = Scan::new(tempfile::tempdir().unwrap(), "3.11", ImagePlatform::Amd64);
        for (path, target) in links {
            scan.links.insert((*path).into(), (0, (*target).into()));
        }
        for path in files {
            scan.files.insert((*path).into(), 0);
        }
        scan
    }

    #[test]
    fn links_resolve_through_merged_usr_and_absolute_targets() {
        let scan = scan_of(
            &[
                ("lib64", "usr/lib64"),
                ("lib", "usr/lib"),
                (
                    "usr/lib64/ld-linux-x86-64.so.2",
                    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                ),
                ("usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13"),
                ("loop", "loop"),
            ],
            &[
                "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                "usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
            ],
        );
        assert_eq!(
            scan.file("/lib64/ld-linux-x86-64.so.2").as_deref(),
            Some("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        );
        assert_eq!(
            scan.file("lib/x86_64-linux-gnu/libz.so.1").as_deref(),
            Some("usr/lib/x86_64-linux-gnu/libz.so.1.2.13")
        );
        assert_eq!(
            scan.resolve("usr/lib/../bin/x").as_deref(),
            Some("usr/bin/x")
        );
        assert_eq!(scan.resolve("loop/x"), None, "a link cycle ends");
        assert_eq!(scan.file("lib/x86_64-linux-gnu/libm.so.6"), None);
    }

    #[test]
    fn wants_interpreters_libraries_and_the_start_up_stdlib_only() {
        let scan = scan_of(&[], &[]);
        for path in [
            "usr/bin/python3.11",
            "usr/local/bin/python3.11",
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/local/lib/libpython3.11.so.1.0",
            "usr/lib/python3.11/os.py",
            "usr/local/lib/python3.11/encodings/utf_8.py",
        ] {
            assert!(scan.wanted(path), "{path}");
        }
        for path in [
            "usr/lib/python3.11/json/decoder.py",
            "usr/lib/python3.12/os.py",
            "usr/lib/python3/dist-packages/x.py",
            "usr/lib/x86_64-linux-gnu/perl/5.36/auto/x.so",
            "usr/share/doc/python3.11/README",
        ] {
            assert!(!scan.wanted(path), "{path}");
        }
    }
}
