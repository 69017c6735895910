//! The archive module against a signed test archive served on 127.0.0.1, and once
//! against Debian's own archive.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};

use super::keyring::{Keyring, tests::TEST_PUBLIC, tests::sign};
use super::remote::Mirrors;
use super::resolve::Settings;
use super::*;
use crate::debian::BaseSpec;
use crate::store::http;

/// A file server: paths to bytes, 404 for the rest; `down` drops every connection.
struct Server {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    base: String,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/debian", listener.local_addr().unwrap());
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (f, r, d) = (files.clone(), requests.clone(), down.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (f, r, d) = (f.clone(), r.clone(), d.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).ok();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                            break;
                        }
                    }
                    if d.load(Ordering::SeqCst) {
                        return;
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let body = f.lock().unwrap().get(&path).cloned();
                    let mut stream = stream;
                    let (status, body) = match body {
                        Some(body) => ("200 OK", body),
                        None => ("404 Not Found", b"not found".to_vec()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).ok();
                    stream.write_all(&body).ok();
                });
            }
        });
        Server {
            files,
            requests,
            down,
            base,
        }
    }

    fn put(&self, path: &str, bytes: Vec<u8>) {
        self.files
            .lock()
            .unwrap()
            .insert(format!("/debian/{path}"), bytes);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A package of the test archive: name, version, Depends, Provides.
const PACKAGES: &[(&str, &str, &str, &str)] = &[
    ("python3", "3.11.2-1+b1", "python3.11 (>= 3.11.2-1~)", ""),
    (
        "python3.11",
        "3.11.2-6+deb12u5",
        "libpython3.11-stdlib (= 3.11.2-6+deb12u5), media-types | mime-support, tzdata",
        "",
    ),
    (
        "libpython3.11-stdlib",
        "3.11.2-6+deb12u5",
        "libc6 (>= 2.36), libssl3 (>= 3.0.0)",
        "",
    ),
    ("libc6", "2.36-9+deb12u9", "libgcc-s1", ""),
    ("libgcc-s1", "12.2.0-14", "libc6 (>= 2.35)", ""),
    ("libstdc++6", "12.2.0-14", "libgcc-s1, libc6", ""),
    ("libssl3", "3.0.15-1~deb12u1", "libc6", ""),
    ("base-files", "12.4+deb12u8", "mawk | awk", ""),
    ("mawk", "1.3.4.20200120-3.1", "libc6", "awk"),
    (
        "ca-certificates",
        "20230311",
        "openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0",
        "",
    ),
    ("openssl", "3.0.15-1~deb12u1", "libssl3", ""),
    ("debconf", "1.5.82", "perl-base", "debconf-2.0"),
    ("perl-base", "5.36.0-7", "", ""),
    (
        "tzdata",
        "2024a-0+deb12u1",
        "debconf (>= 0.5) | debconf-2.0",
        "",
    ),
    ("netbase", "6.4", "", ""),
    ("media-types", "10.0.0", "", ""),
    ("libpq5", "15.8-0+deb12u1", "libc6 (>= 2.34), libssl3", ""),
];

/// The bytes of a package's test `.deb` (the archive module never opens them).
fn deb_bytes(name: &str) -> Vec<u8> {
    format!("!<arch>\ntest deb of {name}\n").into_bytes()
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Serves a signed suite `bookworm` for amd64 and the `.deb`s it lists; returns the
/// Packages.gz bytes the release signed.
fn publish(server: &Server) -> Vec<u8> {
    let mut index = String::new();
    for (name, version, depends, provides) in PACKAGES {
        let arch = if *name == "tzdata" { "all" } else { "amd64" };
        let deb = deb_bytes(name);
        let filename = format!("pool/main/{name}_{version}_{arch}.deb");
        index.push_str(&format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
        ));
        if !depends.is_empty() {
            index.push_str(&format!("Depends: {depends}\n"));
        }
        if !provides.is_empty() {
            index.push_str(&format!("Provides: {provides}\n"));
        }
        index.push_str(&format!(
            "Filename: {filename}\nSize: {}\nSHA256: {}\nDescription: test\n\n",
            deb.len(),
            hex_sha256(&deb)
        ));
        server.put(&filename, deb);
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(index.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let release = format!(
        "Origin: Debian\nSuite: stable\nVersion: 12.8\nCodename: bookworm\nDate: Sat, 09 Nov 2024 10:18:52 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages.gz\n",
        hex_sha256(&gz),
        gz.len()
    );
    server.put("dists/bookworm/InRelease", sign(&release));
    server.put("dists/bookworm/main/binary-amd64/Packages.gz", gz.clone());
    gz
}

fn settings(server: &Server) -> Settings {
    Settings {
        mirrors: Mirrors {
            main: server.base.clone(),
            security: None,
        },
        keyring: Some(Keyring::read(TEST_PUBLIC.as_bytes(), "the test keyring").unwrap()),
    }
}

fn spec(suite: &str, extra: &[&str]) -> BaseSpec {
    BaseSpec {
        suite: suite.into(),
        extra: extra.iter().map(|s| s.to_string()).collect(),
    }
}

fn request<'a>(
    spec: &'a BaseSpec,
    python: Option<(u64, u64)>,
    lock: Option<&'a Path>,
) -> Request<'a> {
    Request {
        spec,
        architecture: "amd64",
        python,
        lock_file: lock,
        update_lock: false,
        refresh: false,
    }
}

struct Env {
    server: Server,
    cache: Cache,
    _dir: tempfile::TempDir,
    client: Client,
    progress: Progress,
}

fn env() -> Env {
    let server = Server::start();
    publish(&server);
    let dir = tempfile::tempdir().unwrap();
    Env {
        server,
        cache: Cache::at(dir.path().join("cache")).unwrap(),
        _dir: dir,
        client: http::client().unwrap(),
        progress: Progress::new(true),
    }
}

impl Env {
    fn resolve(&self, req: &Request) -> Result<Resolution> {
        resolve::resolve(
            req,
            &settings(&self.server),
            &self.client,
            &self.cache,
            &self.progress,
        )
    }

    fn fetch(&self, res: &Resolution) -> Result<()> {
        fetch::fetch(
            res,
            &settings(&self.server).mirrors,
            &self.client,
            &self.cache,
            &self.progress,
        )
    }

    fn error(&self, req: &Request) -> String {
        crate::error::one_line(&self.resolve(req).unwrap_err())
    }
}

fn names(res: &Resolution) -> Vec<&str> {
    res.packages.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn resolves_fetches_caches_and_locks_a_signed_suite() {
    let env = env();
    let base = spec("bookworm", &["libpq5"]);
    let res = env.resolve(&request(&base, None, None)).unwrap();
    assert_eq!(
        (res.codename.as_str(), res.release.as_str()),
        ("bookworm", "12.8")
    );
    assert_eq!(
        (res.python, res.interpreter.as_str()),
        ((3, 11), "/usr/bin/python3.11")
    );
    assert_eq!(
        names(&res),
        [
            "base-files",
            "ca-certificates",
            "libc6",
            "libgcc-s1",
            "libpq5",
            "libpython3.11-stdlib",
            "libssl3",
            "libstdc++6",
            "media-types",
            "netbase",
            "python3.11",
            "tzdata",
        ]
    );
    assert_eq!(res.omitted, ["debconf", "mawk", "openssl"]);
    env.fetch(&res).unwrap();
    for package in &res.packages {
        assert_eq!(
            env.cache.read_blob(&package.digest().unwrap()).unwrap(),
            deb_bytes(&package.name)
        );
    }

    // A second resolution and fetch within a day read nothing from the network.
    let before = env.server.requests();
    assert_eq!(
        env.resolve(&request(&base, None, None)).unwrap().packages,
        res.packages
    );
    env.fetch(&res).unwrap();
    assert_eq!(env.server.requests(), before);

    // Unreachable archive, forced re-read: the cached resolution stands in.
    env.server.down.store(true, Ordering::SeqCst);
    let mut req = request(&base, None, None);
    req.refresh = true;
    assert_eq!(env.resolve(&req).unwrap(), res);
    env.server.down.store(false, Ordering::SeqCst);

    // The lock: written for amd64, then used without any index, refusing another spec.
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join(lock::FILE_NAME);
    let arm64 = lock::LockedArchitecture {
        release: "12.7".into(),
        date: "Sat, 31 Aug 2024 10:09:10 UTC".into(),
        interpreter: "/usr/bin/python3.11".into(),
        omitted: Vec::new(),
        packages: Vec::new(),
    };
    let earlier = lock::BaseLock {
        version: 1,
        suite: "bookworm".into(),
        codename: "bookworm".into(),
        extra: vec!["libpq5".into()],
        python: "3.11".into(),
        architectures: [("arm64".to_owned(), arm64.clone())].into(),
    };
    earlier.write(&lock_path).unwrap();
    let mut req = request(&base, None, Some(&lock_path));
    req.update_lock = true;
    env.resolve(&req).unwrap();
    let text = std::fs::read_to_string(&lock_path).unwrap();
    assert!(
        text.contains("[architectures.amd64]") && text.contains("name = \"libpq5\""),
        "{text}"
    );
    let written = lock::BaseLock::parse(&text).unwrap();
    assert_eq!(
        written.architectures["arm64"], arm64,
        "the other architecture is kept"
    );
    env.server.files.lock().unwrap().clear();
    let locked = env
        .resolve(&request(&base, None, Some(&lock_path)))
        .unwrap();
    assert_eq!(locked.packages, res.packages);
    let other = spec("bookworm", &[]);
    assert_eq!(
        env.error(&request(&other, None, Some(&lock_path))),
        "pyship-base.lock was made for deb:bookworm+libpq5, not deb:bookworm: run pyship build --lock-base to update it"
    );
    assert_eq!(
        env.error(&request(&base, Some((3, 13)), Some(&lock_path))),
        "pyship-base.lock was made for deb:bookworm+libpq5 with Python 3.11, not deb:bookworm+libpq5 with Python 3.13: run pyship build --lock-base to update it"
    );
    // A pinned .deb the mirror no longer has: the snapshot of the release's date.
    let fresh = Cache::at(dir.path().join("other-cache")).unwrap();
    let err = fetch::fetch(
        &locked,
        &settings(&env.server).mirrors,
        &env.client,
        &fresh,
        &env.progress,
    )
    .unwrap_err();
    let err = crate::error::one_line(&err);
    assert!(err.contains("(404): fetch it from the archive's snapshot with PYSHIP_DEBIAN_MIRROR=https://snapshot.debian.org/archive/debian/20241109T101852Z/"), "{err}");
}

#[test]
fn tampered_index_or_deb_is_refused_and_not_cached() {
    let env = env();
    let mut gz =
        env.server.files.lock().unwrap()["/debian/dists/bookworm/main/binary-amd64/Packages.gz"]
            .clone();
    let last = gz.len() - 9;
    gz[last] ^= 1;
    env.server
        .put("dists/bookworm/main/binary-amd64/Packages.gz", gz.clone());
    let base = spec("bookworm", &[]);
    let err = env.error(&request(&base, None, None));
    assert_eq!(
        err,
        format!(
            "{}/dists/bookworm/main/binary-amd64/Packages.gz does not match the sha256 its signed InRelease lists: the mirror is damaged or tampered with; nothing was cached",
            env.server.base
        )
    );
    assert!(
        !env.cache
            .has_blob(&format!("sha256:{}", hex_sha256(&gz)).parse().unwrap())
    );

    let env = self::env();
    let res = env.resolve(&request(&base, None, None)).unwrap();
    let libc = res.packages.iter().find(|p| p.name == "libc6").unwrap();
    env.server
        .put(&libc.filename, b"!<arch>\ntest deb of libc7\n".to_vec());
    let err = crate::error::one_line(&env.fetch(&res).unwrap_err());
    assert_eq!(
        err,
        format!(
            "the .deb of libc6 2.36-9+deb12u9 (amd64) from {} does not match the sha256 its index lists: the mirror is damaged or tampered with; nothing was cached",
            http::host(&env.server.base)
        )
    );
    assert!(!env.cache.has_blob(&libc.digest().unwrap()));
}

#[test]
fn a_release_signed_by_an_unknown_key_is_refused() {
    let env = env();
    let mut settings = settings(&env.server);
    settings.keyring = Some(Keyring::debian().unwrap());
    let base = spec("bookworm", &[]);
    let err = resolve::resolve(
        &request(&base, None, None),
        &settings,
        &env.client,
        &env.cache,
        &env.progress,
    )
    .unwrap_err();
    let err = crate::error::one_line(&err);
    assert!(err.starts_with("the InRelease of bookworm is signed by none of the keys in Debian's archive keyring (signed by "), "{err}");
    assert!(
        err.ends_with("): set PYSHIP_DEBIAN_KEYRING to the keyring of the archive you trust"),
        "{err}"
    );
    // The text changed after signing: refused with the test key as well.
    let signed = env.server.files.lock().unwrap()["/debian/dists/bookworm/InRelease"].clone();
    let forged = String::from_utf8(signed)
        .unwrap()
        .replace("Version: 12.8", "Version: 12.9");
    env.server
        .put("dists/bookworm/InRelease", forged.into_bytes());
    assert!(
        env.error(&request(&base, None, None))
            .contains("is signed by none of the keys in the test keyring")
    );
}

#[test]
fn unknown_suites_packages_and_pythons_are_named_with_their_fix() {
    let env = env();
    assert_eq!(
        env.error(&request(&spec("bokworm", &[]), None, None)),
        format!(
            "unknown Debian suite \"bokworm\" at {}: use a codename such as bookworm or trixie",
            env.server.base
        )
    );
    assert_eq!(
        env.error(&request(&spec("bookworm", &["libpq6"]), None, None)),
        "deb:bookworm has no package \"libpq6\" for amd64: check the name at https://packages.debian.org/bookworm/ (close: libpq5)"
    );
    let bookworm = spec("bookworm", &[]);
    let mut arch = request(&bookworm, None, None);
    arch.architecture = "riscv64";
    assert_eq!(
        env.error(&arch),
        "bookworm has no packages for riscv64: Debian architectures are amd64 and arm64"
    );
    let signed = env.server.files.lock().unwrap()["/debian/dists/bookworm/InRelease"].clone();
    env.server.put("dists/trixie/InRelease", signed);
    assert_eq!(
        env.error(&request(&spec("trixie", &[]), None, None)),
        format!(
            "the InRelease at {}/dists/trixie calls itself bookworm: the mirror serves the wrong suite",
            env.server.base
        )
    );
    assert_eq!(
        env.error(&request(&spec("bookworm", &[]), Some((3, 12)), None)),
        "deb:bookworm carries Python 3.11, not 3.12: use a suite that carries Python 3.12 or pin Python 3.11"
    );
    assert_eq!(
        env.error(&request(&spec("bookworm", &[]), Some((3, 13)), None)),
        "deb:bookworm carries Python 3.11, not 3.13: use deb:trixie (Python 3.13) or pin Python 3.11"
    );
}

#[test]
fn an_unreachable_archive_without_a_cached_resolution_names_the_mirror_variable() {
    let env = env();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut settings = settings(&env.server);
    settings.mirrors.main = format!("http://{closed}/debian");
    let base = spec("bookworm", &[]);
    let err = resolve::resolve(
        &request(&base, None, None),
        &settings,
        &env.client,
        &env.cache,
        &env.progress,
    )
    .unwrap_err();
    let err = crate::error::one_line(&err);
    assert!(
        err.starts_with(&format!("cannot reach {closed}: ")),
        "{err}"
    );
    assert!(
        err.ends_with(": set PYSHIP_DEBIAN_MIRROR to a mirror you can reach"),
        "{err}"
    );
}

/// Debian's own archive: bookworm for amd64 and trixie for arm64, resolved from the
/// signed indexes with the embedded keys and fetched. Prints each closure.
#[test]
fn resolves_and_fetches_debians_archive() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(dir.path().to_path_buf()).unwrap();
    let client = http::client().unwrap();
    let progress = Progress::new(true);
    let settings = Settings {
        mirrors: Mirrors {
            main: "http://deb.debian.org/debian".into(),
            security: Some("http://deb.debian.org/debian-security".into()),
        },
        keyring: Some(Keyring::debian().unwrap()),
    };
    for (suite, arch, python, ssl) in [
        ("bookworm", "amd64", (3, 11), "libssl3"),
        ("trixie", "arm64", (3, 13), "libssl3t64"),
    ] {
        let base = spec(suite, &[]);
        let mut req = request(&base, None, None);
        req.architecture = arch;
        let started = std::time::Instant::now();
        let res = resolve::resolve(&req, &settings, &client, &cache, &progress).unwrap();
        let resolved_in = started.elapsed();
        let total: u64 = res.packages.iter().map(|p| p.size).sum();
        eprintln!(
            "deb:{suite} {arch} ({}, {}): {} packages, {:.1} MB",
            res.release,
            res.date,
            res.packages.len(),
            total as f64 / 1e6
        );
        for p in &res.packages {
            eprintln!("  {} {} {} {}", p.name, p.version, p.architecture, p.size);
        }
        eprintln!("  omitted: {}", res.omitted.join(", "));
        assert_eq!(res.python, python);
        let names = names(&res);
        for needed in [
            ssl,
            "libsqlite3-0",
            "libffi8",
            "liblzma5",
            "libbz2-1.0",
            "libuuid1",
            "zlib1g",
            "libexpat1",
            "tzdata",
            "ca-certificates",
            "base-files",
            "libc6",
        ] {
            assert!(names.contains(&needed), "{suite} lacks {needed}: {names:?}");
        }
        for shell in [
            "bash",
            "dash",
            "busybox",
            "perl-base",
            "dpkg",
            "apt",
            "coreutils",
        ] {
            assert!(!names.contains(&shell), "{suite} has {shell}");
        }
        assert!(
            res.packages
                .iter()
                .all(|p| p.architecture == arch || p.architecture == "all")
        );
        let started = std::time::Instant::now();
        fetch::fetch(&res, &settings.mirrors, &client, &cache, &progress).unwrap();
        eprintln!(
            "  resolved in {resolved_in:.1?}, fetched in {:.1?}",
            started.elapsed()
        );
        assert!(
            res.packages
                .iter()
                .all(|p| cache.has_blob(&p.digest().unwrap()))
        );
    }
}
