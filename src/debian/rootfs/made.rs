//! What the packages' maintainer scripts and Debian's installer would have made, made
//! by pyship since nothing runs: the CA bundle (update-ca-certificates), the dpkg
//! database (dpkg itself), the user databases (base-passwd), the name-service switch,
//! the temporary directories and the time zone (base-files, tzdata).

use anyhow::{Result, bail};
use base64::Engine;

use super::BaseInfo;
use crate::contract::{APP_HOME, APP_UID, group_line, passwd_line};
use crate::debian::DebPackage;
use crate::oci::layer::{Content, Entry, Tree};

/// A package as unpacked: its control file, md5sums, and the paths it kept.
pub struct Installed<'a> {
    pub package: &'a DebPackage,
    pub control: String,
    pub md5sums: Option<String>,
    pub files: Vec<String>,
}

/// The bundle OpenSSL is pointed at (`SSL_CERT_FILE`, and Debian's `cert.pem` link).
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Where `ca-certificates` ships the certificates the bundle is made of.
const CA_SOURCES: &str = "usr/share/ca-certificates/";

pub fn all(tree: &mut Tree, installed: &[Installed], info: &BaseInfo, epoch: u64) -> Result<()> {
    ca_bundle(tree, info, epoch)?;
    users(tree, epoch)?;
    directories(tree, epoch)?;
    dpkg(tree, installed, info, epoch)
}

/// The concatenation, in path order, of every certificate `ca-certificates` ships
/// (what update-ca-certificates makes of its default configuration), then the extra
/// ones; and the links through which OpenSSL's default paths reach it.
fn ca_bundle(tree: &mut Tree, info: &BaseInfo, epoch: u64) -> Result<()> {
    let mut bundle = Vec::new();
    for (_, pem) in tree.read_files(|path, _| path.starts_with(CA_SOURCES) && path.ends_with(".crt"))? {
        append_pem(&mut bundle, &pem);
    }
    for (name, pem) in info.extra_ca_certificates {
        check_certificates(name, pem)?;
        append_pem(&mut bundle, pem);
    }
    tree.insert(CA_BUNDLE, Entry::file(Content::Bytes(bundle), epoch))?;
    tree.insert("usr/lib/ssl/certs", Entry::symlink("/etc/ssl/certs", epoch))?;
    tree.insert(
        "usr/lib/ssl/cert.pem",
        Entry::symlink(&format!("/{CA_BUNDLE}"), epoch),
    )?;
    Ok(())
}

fn append_pem(bundle: &mut Vec<u8>, pem: &[u8]) {
    bundle.extend_from_slice(pem);
    if !pem.ends_with(b"\n") {
        bundle.push(b'\n');
    }
}

/// Refuses a file that holds no PEM certificate, or a block that is not one.
fn check_certificates(name: &str, pem: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(pem);
    let mut found = 0;
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + 27..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            bail!("{name} has a certificate with no END line: give a PEM certificate file");
        };
        let base64: String = body[..end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD.decode(base64.as_bytes());
        if !der.is_ok_and(|der| der.first() == Some(&0x30)) {
            bail!("{name} has a certificate that is not valid base64 DER: give a PEM certificate file");
        }
        found += 1;
        rest = &body[end..];
    }
    if found == 0 {
        bail!("{name} holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA's certificate in PEM form");
    }
    Ok(())
}

/// root, nobody and the runtime user, with no login shell: there is none.
fn users(tree: &mut Tree, epoch: u64) -> Result<()> {
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n{}\n",
        passwd_line()
    );
    let group = format!("root:x:0:\nnogroup:x:65534:\n{}\n", group_line());
    let nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n";
    for (path, text) in [
        ("etc/passwd", passwd),
        ("etc/group", group),
        ("etc/nsswitch.conf", nsswitch.to_owned()),
        ("etc/timezone", "Etc/UTC\n".to_owned()),
    ] {
        tree.insert(path, Entry::file(Content::Bytes(text.into_bytes()), epoch))?;
    }
    tree.insert(
        "etc/localtime",
        Entry::symlink("/usr/share/zoneinfo/Etc/UTC", epoch),
    )
}

fn directories(tree: &mut Tree, epoch: u64) -> Result<()> {
    for (path, mode) in [("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700)] {
        let mut dir = Entry::dir(epoch);
        dir.mode = Some(mode);
        tree.insert(path, dir)?;
    }
    let id = u64::from(APP_UID);
    tree.insert(APP_HOME, Entry::dir(epoch).owned_by(id, id))
}

/// `/var/lib/dpkg/status` with every package installed, and each one's file list and
/// md5sums in `info/`, as dpkg keeps them: what scanners read to list the packages.
fn dpkg(tree: &mut Tree, installed: &[Installed], info: &BaseInfo, epoch: u64) -> Result<()> {
    let mut sorted: Vec<&Installed> = installed.iter().collect();
    sorted.sort_by(|a, b| a.package.name.cmp(&b.package.name));
    let mut status = String::new();
    for package in &sorted {
        status.push_str(&status_paragraph(&package.control));
        status.push('\n');
        let name = info_name(package, info.architecture);
        let mut list = String::from("/.\n");
        for path in &package.files {
            list.push('/');
            list.push_str(path);
            list.push('\n');
        }
        let text = |s: String| Entry::file(Content::Bytes(s.into_bytes()), epoch);
        tree.insert(&format!("var/lib/dpkg/info/{name}.list"), text(list))?;
        if let Some(md5sums) = &package.md5sums {
            let kept: String = md5sums
                .lines()
                .filter(|line| {
                    line.split_once("  ")
                        .is_some_and(|(_, path)| package.files.iter().any(|f| f == path))
                })
                .map(|line| format!("{line}\n"))
                .collect();
            tree.insert(&format!("var/lib/dpkg/info/{name}.md5sums"), text(kept))?;
        }
    }
    tree.insert(
        "var/lib/dpkg/status",
        Entry::file(Content::Bytes(status.into_bytes()), epoch),
    )
}

/// A control file as a status paragraph: `Status: install ok installed` after
/// `Package:`, where dpkg writes it.
fn status_paragraph(control: &str) -> String {
    let mut out = String::new();
    for line in control.trim_end().lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Package:") {
            out.push_str("Status: install ok installed\n");
        }
    }
    out
}

/// `NAME` or, for a `Multi-Arch: same` package, `NAME:ARCH`: dpkg's names for info files.
fn info_name(installed: &Installed, architecture: &str) -> String {
    let same = installed
        .control
        .lines()
        .any(|l| l.trim() == "Multi-Arch: same");
    if same {
        format!("{}:{architecture}", installed.package.name)
    } else {
        installed.package.name.clone()
    }
}
