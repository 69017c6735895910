use super::deb::tests::deb;
use super::*;

/// A cache holding `debs` (name, bytes), and their `DebPackage`s.
fn cached(debs: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, Cache, Vec<DebPackage>) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(dir.path().to_path_buf()).unwrap();
    let packages = debs
        .iter()
        .map(|(name, bytes)| {
            let digest = cache.put_blob(bytes).unwrap();
            DebPackage {
                name: (*name).to_owned(),
                version: "1.0-1".to_owned(),
                architecture: "amd64".to_owned(),
                source: None,
                filename: format!("pool/main/{name}.deb"),
                size: bytes.len() as u64,
                sha256: digest.hex().to_owned(),
            }
        })
        .collect();
    (dir, cache, packages)
}

const INFO: BaseInfo<'static> = BaseInfo {
    codename: "bookworm",
    architecture: "amd64",
    extra_ca_certificates: &[],
};

fn file_text(tree: &Tree, path: &str) -> String {
    let files = tree.read_files(|p, _| p == path).unwrap();
    String::from_utf8(files.into_iter().next().unwrap_or_default().1).unwrap()
}

/// A syntactically valid PEM certificate block (DER starts with a SEQUENCE).
fn pem(tag: &str) -> String {
    let der = base64::engine::general_purpose::STANDARD.encode([0x30, 0x03, 0x02, 0x01, tag.len() as u8]);
    format!("-----BEGIN CERTIFICATE-----\n{der}\n-----END CERTIFICATE-----\n")
}

use base64::Engine;

#[test]
fn merged_usr_placement_docs_and_the_dpkg_database() {
    let libc = deb(
        "Package: libc6\nVersion: 1.0-1\nArchitecture: amd64\nMulti-Arch: same\nDescription: C\n library\n",
        &[
            ("./lib/", b""),
            ("./lib/x86_64-linux-gnu/libc.so.6", b"ELF"),
            ("./lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld.so", b""),
            ("./bin/tool -> ../usr/bin/real", b""),
            ("./usr/share/doc/libc6/changelog.gz", b"x"),
            ("./usr/share/doc/libc6/copyright", b"GPL"),
            ("./usr/share/man/man1/x.1", b"x"),
            ("./usr/share/locale/fr/LC_MESSAGES/libc.mo", b"x"),
        ],
        "xz",
    );
    let (_dir, cache, packages) = cached(&[("libc6", libc)]);
    let tree = assemble(&packages, &INFO, &cache, 1_700_000_000).unwrap();
    let paths: Vec<&str> = tree.paths().collect();
    for wanted in [
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib64/ld-linux-x86-64.so.2",
        "usr/share/doc/libc6/copyright",
        "lib",
        "bin",
        "var/lib/dpkg/status",
        "var/lib/dpkg/info/libc6:amd64.list",
        "etc/ssl/certs/ca-certificates.crt",
        "tmp",
    ] {
        assert!(paths.contains(&wanted), "{wanted} missing from {paths:?}");
    }
    for gone in [
        "lib/x86_64-linux-gnu/libc.so.6",
        "usr/share/doc/libc6/changelog.gz",
        "usr/share/man/man1/x.1",
        "usr/share/locale/fr/LC_MESSAGES/libc.mo",
    ] {
        assert!(!paths.contains(&gone), "{gone} should not be there");
    }
    let status = file_text(&tree, "var/lib/dpkg/status");
    assert!(
        status.starts_with("Package: libc6\nStatus: install ok installed\nVersion: 1.0-1\n"),
        "{status}"
    );
    assert!(status.contains("Description: C\n library\n"), "{status}");
    let list = file_text(&tree, "var/lib/dpkg/info/libc6:amd64.list");
    assert!(list.contains("/lib/x86_64-linux-gnu/libc.so.6\n"), "{list}");
    assert!(!list.contains("changelog"), "{list}");
    let passwd = file_text(&tree, "etc/passwd");
    assert!(passwd.contains(&crate::contract::passwd_line()), "{passwd}");
    assert!(passwd.contains("nobody:x:65534:"), "{passwd}");
}

#[test]
fn a_relative_link_that_climbs_keeps_naming_the_same_file_once_moved() {
    assert_eq!(link_target("bin/tool", "usr/bin/tool", "../usr/bin/real"), "/usr/bin/real");
    assert_eq!(link_target("lib/a.so", "usr/lib/a.so", "a.so.1"), "a.so.1");
    assert_eq!(link_target("usr/bin/x", "usr/bin/x", "../lib/y"), "../lib/y");
}

#[test]
fn the_ca_bundle_is_every_certificate_in_path_order_then_the_extras() {
    let (a, b, extra) = (pem("a"), pem("bb"), pem("ccc"));
    let certs = deb(
        "Package: ca-certificates\nVersion: 1\n",
        &[
            ("./usr/share/ca-certificates/mozilla/B.crt", b.as_bytes()),
            ("./usr/share/ca-certificates/mozilla/A.crt", a.as_bytes()),
        ],
        "gz",
    );
    let (_dir, cache, packages) = cached(&[("ca-certificates", certs)]);
    let extras = [("corp.pem".to_owned(), extra.clone().into_bytes())];
    let info = BaseInfo {
        extra_ca_certificates: &extras,
        ..INFO
    };
    let tree = assemble(&packages, &info, &cache, 1).unwrap();
    assert_eq!(file_text(&tree, "etc/ssl/certs/ca-certificates.crt"), format!("{a}{b}{extra}"));

    let bad = [("corp.pem".to_owned(), b"not a certificate".to_vec())];
    let info = BaseInfo {
        extra_ca_certificates: &bad,
        ..INFO
    };
    let err = assemble(&packages, &info, &cache, 1).unwrap_err().to_string();
    assert!(err.contains("corp.pem holds no PEM certificate"), "{err}");
}

#[test]
fn two_packages_shipping_one_path_must_agree() {
    let one = deb("Package: one\n", &[("./usr/bin/x", b"1")], "tar");
    let same = deb("Package: same\n", &[("./usr/bin/x", b"1")], "tar");
    let other = deb("Package: other\n", &[("./usr/bin/x", b"2")], "tar");
    let (_dir, cache, packages) = cached(&[("one", one), ("same", same), ("other", other)]);
    assemble(&packages[..2], &INFO, &cache, 1).unwrap();
    let err = assemble(&packages, &INFO, &cache, 1).unwrap_err().to_string();
    assert!(err.contains("one and other both ship /usr/bin/x"), "{err}");
}

#[test]
fn the_same_packages_make_the_same_layer() {
    let pkg = || deb("Package: p\n", &[("./usr/bin/p", b"p"), ("./etc/p.conf", b"c")], "xz");
    let layer = |bytes: Vec<u8>| {
        let (_dir, cache, packages) = cached(&[("p", bytes)]);
        let tree = assemble(&packages, &INFO, &cache, 1_700_000_000).unwrap();
        tree.write_layer(&cache, 1_700_000_000).unwrap().digest
    };
    assert_eq!(layer(pkg()), layer(pkg()));
}
