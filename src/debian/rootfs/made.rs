//! What the packages' maintainer scripts would have made, made without running them:
//! the CA bundle (ca-certificates' postinst runs update-ca-certificates), the dpkg
//! database (dpkg itself), the user databases (base-passwd), the name-service and
//! time-zone configuration (base-files' and tzdata's postinsts).

use std::io::BufReader;

use anyhow::{Context, Result, bail};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, SectionKind};

use super::deb::Control;
use crate::contract::{app_group_line, app_passwd_line};

/// Where ca-certificates ships the certificates its default configuration trusts.
pub const SHIPPED_CERTS: &str = "usr/share/ca-certificates/";

/// The bundle every TLS client on Debian reads, directly or through OpenSSL's links.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Where update-ca-certificates finds local certificates; extra ones are put there too,
/// so the bundle's sources stay visible in the image.
pub const LOCAL_CERTS: &str = "/usr/local/share/ca-certificates";

/// The links Debian's openssl package makes in OpenSSL's own directory (its
/// OPENSSLDIR), which Python's `ssl.get_default_verify_paths()` reads; libssl3 alone
/// ships neither.
pub const OPENSSL_LINKS: [(&str, &str); 2] = [
    ("/usr/lib/ssl/cert.pem", CA_BUNDLE),
    ("/usr/lib/ssl/certs", "/etc/ssl/certs"),
];

/// `files` for users and groups (the image has no other directory service), the
/// resolver's `files dns` for hosts, as Debian's default configuration has them.
pub const NSSWITCH: &str = "passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
netgroup:       files
";

/// What tzdata's postinst writes when no zone was chosen.
pub const TIMEZONE: &str = "Etc/UTC";

/// The CA bundle as update-ca-certificates writes it from its default configuration:
/// every shipped certificate in sorted path order, then the extra ones sorted by name,
/// each ending with a newline. `shipped` is (path under [`SHIPPED_CERTS`], PEM).
pub fn ca_bundle(mut shipped: Vec<(String, Vec<u8>)>, extra: &[(String, Vec<u8>)]) -> Vec<u8> {
    shipped.sort();
    let mut extra: Vec<&(String, Vec<u8>)> = extra.iter().collect();
    extra.sort();
    let mut bundle = Vec::new();
    for (_, pem) in shipped.iter().chain(extra) {
        bundle.extend_from_slice(pem);
        if !pem.ends_with(b"\n") {
            bundle.push(b'\n');
        }
    }
    bundle
}

/// An extra CA certificate checked: a plain file name, and PEM holding one or more
/// X.509 certificates and nothing else.
pub fn check_extra_certificate(name: &str, pem_bytes: &[u8]) -> Result<()> {
    let fix = "give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)";
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("extra CA certificate name {name:?} is not a plain file name: rename it");
    }
    let mut reader = BufReader::new(pem_bytes);
    let mut count = 0;
    loop {
        let section = pem::from_buf(&mut reader).map_err(|err| {
            anyhow::anyhow!("extra CA certificate {name} is not valid PEM ({err}): {fix}")
        })?;
        let Some((kind, der)) = section else { break };
        if kind != SectionKind::Certificate {
            bail!("extra CA certificate {name} holds a {kind:?} section, not a certificate: {fix}");
        }
        let der = CertificateDer::from(der);
        webpki::anchor_from_trusted_cert(&der).map_err(|err| {
            anyhow::anyhow!(
                "extra CA certificate {name} is not an X.509 certificate ({err:?}): {fix}"
            )
        })?;
        count += 1;
    }
    if count == 0 {
        bail!("extra CA certificate {name} holds no certificate: {fix}");
    }
    Ok(())
}

/// One installed package as dpkg's database records it.
pub struct Installed<'a> {
    pub control: &'a Control,
    /// The package's paths as it ships them (before merged `/usr`), in archive order,
    /// only those the base kept.
    pub paths: Vec<&'a str>,
    /// `md5sums` with the lines of left-out files removed.
    pub md5sums: Option<String>,
}

impl Installed<'_> {
    pub fn name(&self) -> &str {
        self.control.field("Package").unwrap_or_default()
    }

    /// The name of its files under `/var/lib/dpkg/info/`: `Multi-Arch: same` packages
    /// are qualified by their architecture, as dpkg names them.
    pub fn info_name(&self) -> String {
        let name = self.name();
        match (
            self.control.field("Multi-Arch"),
            self.control.field("Architecture"),
        ) {
            (Some("same"), Some(arch)) => format!("{name}:{arch}"),
            _ => name.to_owned(),
        }
    }

    /// `info/NAME.list`: the root, then every path it installed, one a line.
    pub fn list(&self) -> String {
        let mut text = String::from("/.\n");
        for path in &self.paths {
            text.push('/');
            text.push_str(path);
            text.push('\n');
        }
        text
    }
}

/// The fields dpkg knows, in the order it writes them to its status file; fields it
/// does not know (`Homepage`, `Built-Using`, ...) follow, in the control file's order.
const DPKG_FIELD_ORDER: [&str; 32] = [
    "Package",
    "Essential",
    "Protected",
    "Status",
    "Priority",
    "Section",
    "Installed-Size",
    "Origin",
    "Maintainer",
    "Bugs",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Config-Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Enhances",
    "Conffiles",
    "Filename",
    "Size",
    "MD5sum",
    "MSDOS-Filename",
    "Description",
    "Triggers-Pending",
    "Triggers-Awaited",
];

/// `/var/lib/dpkg/status` as dpkg writes it: each package's control paragraph with
/// `Status: install ok installed`, its fields in dpkg's order, packages sorted by
/// name, a blank line after each.
pub fn dpkg_status(installed: &[Installed]) -> String {
    let mut sorted: Vec<&Installed> = installed.iter().collect();
    sorted.sort_by_cached_key(|p| p.info_name());
    let mut text = String::new();
    for package in sorted {
        let mut fields = fields(&package.control.paragraph);
        fields.push(("Status", "Status: install ok installed\n".to_owned()));
        // A stable sort: unknown fields keep their order after the known ones.
        fields.sort_by_key(|(name, _)| {
            DPKG_FIELD_ORDER
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
                .unwrap_or(DPKG_FIELD_ORDER.len())
        });
        for (_, field) in fields {
            text.push_str(&field);
        }
        text.push('\n');
    }
    text
}

/// A paragraph's fields: (name, the field's lines with their continuations).
fn fields(paragraph: &str) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in paragraph.lines() {
        match fields.last_mut() {
            Some((_, text)) if line.starts_with([' ', '\t']) => text.push_str(line),
            _ => fields.push((
                line.split_once(':').map_or(line, |(name, _)| name),
                line.to_owned(),
            )),
        }
        if let Some((_, text)) = fields.last_mut() {
            text.push('\n');
        }
    }
    fields
}

/// `md5sums` without the lines of files `kept` rejects.
pub fn kept_md5sums(md5sums: &str, kept: impl Fn(&str) -> bool) -> Result<String> {
    let mut text = String::new();
    for line in md5sums.lines().filter(|l| !l.is_empty()) {
        let (_, path) = line
            .split_once("  ")
            .with_context(|| format!("md5sums line {line:?} is not 'HASH  PATH'"))?;
        if kept(path) {
            text.push_str(line);
            text.push('\n');
        }
    }
    Ok(text)
}

/// `/etc/passwd`: root, the runtime user exactly as the runtime layer writes it, and
/// `nobody`. No account has a login shell: the base has no shell.
pub fn passwd() -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n{}\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        app_passwd_line()
    )
}

/// `/etc/group`, matching [`passwd`].
pub fn group() -> String {
    format!("root:x:0:\n{}\nnogroup:x:65534:\n", app_group_line())
}
