//! Inputs made to hurt: crafted docker-archives that try to read host files, tar
//! headers and zip entries that claim absurd sizes. Each must end in a one-line error
//! or a correct result, never in a crash or a host file inside the cache.

use crate::common;

use std::path::Path;

use common::*;
use sha2::{Digest as _, Sha256};

/// What a host file holds that must never reach the cache.
const SECRET: &str = "HOST-SECRET-9f2c4e";

/// A tar built member by member, for archives a real tool would never write.
struct TarBuilder(tar::Builder<Vec<u8>>);

impl TarBuilder {
    fn new() -> TarBuilder {
        TarBuilder(tar::Builder::new(Vec::new()))
    }

    fn file(mut self, name: &str, bytes: &[u8]) -> TarBuilder {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // Set raw, so names that `append_data` would refuse (`..`, absolute) go in as they are.
        write_name(&mut header, name);
        header.set_cksum();
        self.0.append(&header, bytes).unwrap();
        self
    }

    fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> TarBuilder {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o777);
        header.set_entry_type(kind);
        write_name(&mut header, name);
        header.set_link_name(target).unwrap();
        header.set_cksum();
        self.0.append(&header, std::io::empty()).unwrap();
        self
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn write_name(header: &mut tar::Header, name: &str) {
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

/// An image config and a layer holding one small file: a valid image to point at.
fn config_and_layer(marker: &str) -> (Vec<u8>, Vec<u8>) {
    let layer = TarBuilder::new()
        .file("app/data.txt", marker.as_bytes())
        .finish();
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": "1001", "Cmd": ["python", "-m", "app"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [],
    });
    (serde_json::to_vec(&config).unwrap(), layer)
}

fn manifest_json(config: &str, layers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([{
        "Config": config,
        "RepoTags": ["hostile:latest"],
        "Layers": layers,
    }]))
    .unwrap()
}

/// Runs `pyship verify --static-only` on `archive` with `pyship`'s cache.
fn verify_archive(pyship: &Pyship, archive: &Path) -> std::process::Output {
    pyship.run(&[
        "verify",
        &format!("docker-archive:{}", archive.display()),
        "--static-only",
        "--format",
        "json",
    ])
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}

/// Asserts a clean refusal: exit 2, one `error:` line naming `expected`, and nothing of
/// the host's secret in the cache.
fn refused(out: &std::process::Output, pyship: &Pyship, expected: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "expected exit 2: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line: {err}");
    assert!(
        lines[0].contains(expected),
        "error lacks {expected:?}: {err}"
    );
    assert!(!err.contains(SECRET), "the secret was printed: {err}");
    assert_eq!(
        files_containing(pyship.cache.path(), SECRET),
        Vec::<String>::new(),
        "a host file reached the cache"
    );
}

#[test]
fn a_well_formed_archive_with_an_inner_symlink_is_read() {
    // The control for the refusals below: the same builder makes a readable archive,
    // and a link that stays inside it (as older `docker save` writes for shared
    // layers) is followed inside the archive.
    let dir = tempfile::tempdir().unwrap();
    let (config, layer) = config_and_layer("benign");
    let archive = dir.path().join("ok.tar");
    let bytes = TarBuilder::new()
        .file(
            "manifest.json",
            &manifest_json("config.json", &["b/layer.tar"]),
        )
        .file("config.json", &config)
        .file("a/layer.tar", &layer)
        .link(tar::EntryType::Symlink, "b/layer.tar", "../a/layer.tar")
        .finish();
    std::fs::write(&archive, bytes).unwrap();
    let pyship = Pyship::new();
    let out = verify_archive(&pyship, &archive);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "a valid archive was refused: {}",
        stderr(&out)
    );
    let digest = hex::encode(Sha256::digest(&layer));
    assert!(
        pyship
            .cache
            .path()
            .join("blobs/sha256")
            .join(digest)
            .is_file()
    );
}

#[test]
fn manifest_paths_outside_the_archive_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, layer) = config_and_layer(SECRET);
    let host_layer = dir.path().join("host-layer.tar");
    std::fs::write(&host_layer, &layer).unwrap();
    let host_config = dir.path().join("host-config.json");
    let (_, benign_layer) = config_and_layer("benign");
    std::fs::write(&host_config, config_with_secret()).unwrap();
    let pyship = Pyship::new();
    // Where the old reader's staging directory would resolve `../../NAME`: the cache root.
    std::fs::write(pyship.cache.path().join("climb.tar"), &layer).unwrap();
    let cases: [(&str, &[&str]); 4] = [
        ("config.json", &[host_layer.to_str().unwrap()]),
        (host_config.to_str().unwrap(), &["layer.tar"]),
        ("config.json", &["../../climb.tar"]),
        ("config.json", &["./../layer.tar"]),
    ];
    for (config_name, layers) in cases {
        let archive = dir.path().join("hostile.tar");
        let bytes = TarBuilder::new()
            .file("manifest.json", &manifest_json(config_name, layers))
            .file("config.json", &config)
            .file("layer.tar", &benign_layer)
            .finish();
        std::fs::write(&archive, bytes).unwrap();
        let out = verify_archive(&pyship, &archive);
        std::fs::remove_file(pyship.cache.path().join("climb.tar")).ok();
        refused(&out, &pyship, "not a path inside the archive");
        std::fs::write(pyship.cache.path().join("climb.tar"), &layer).unwrap();
    }
}

/// A config that names the secret in its environment, to be refused as a whole.
fn config_with_secret() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [format!("TOKEN={SECRET}")]},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap()
}

#[test]
fn link_members_that_leave_the_archive_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, layer) = config_and_layer(SECRET);
    let host_file = dir.path().join("id_rsa.tar");
    std::fs::write(&host_file, &layer).unwrap();
    let host = host_file.to_str().unwrap();
    let climbing = format!("../../../../../../../../../..{host}");
    let pyship = Pyship::new();
    for kind in [tar::EntryType::Symlink, tar::EntryType::Link] {
        for target in [host, climbing.as_str()] {
            let archive = dir.path().join("links.tar");
            let bytes = TarBuilder::new()
                .file(
                    "manifest.json",
                    &manifest_json("config.json", &["layer.tar"]),
                )
                .file("config.json", &config)
                .link(kind, "layer.tar", target)
                .finish();
            std::fs::write(&archive, bytes).unwrap();
            let out = verify_archive(&pyship, &archive);
            refused(&out, &pyship, "points outside the archive");
        }
    }
}

#[test]
fn a_tar_header_claiming_a_terabyte_is_an_error_not_a_crash() {
    // Both verify's layer scan and the archive reader see the claim; neither may
    // allocate by it. The member lies: it holds a few bytes, then the tar ends.
    let dir = tempfile::tempdir().unwrap();
    let mut layer = TarBuilder::new()
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .finish();
    layer.truncate(layer.len() - 1024); // drop the end-of-archive blocks
    claim_terabyte(&mut layer[..512]);
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "1001"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let archive = dir.path().join("claims.tar");
    let bytes = TarBuilder::new()
        .file(
            "manifest.json",
            &manifest_json("config.json", &["layer.tar"]),
        )
        .file("config.json", &config)
        .file("layer.tar", &layer)
        .finish();
    std::fs::write(&archive, bytes).unwrap();
    let pyship = Pyship::new();
    let out = verify_archive(&pyship, &archive);
    let err = stderr(&out);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "expected findings or a clean error, got {:?}: {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{err}");

    // The same claim on a member of the archive itself.
    let mut outer = TarBuilder::new()
        .file(
            "manifest.json",
            &manifest_json("config.json", &["layer.tar"]),
        )
        .file("config.json", &config)
        .file("layer.tar", &layer)
        .finish();
    let layer_header = 512 * (2 + manifest_blocks(&outer));
    claim_terabyte(&mut outer[layer_header..layer_header + 512]);
    std::fs::write(&archive, outer).unwrap();
    let out = verify_archive(&pyship, &archive);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Rewrites the tar header in `block` to claim 1 TiB of contents.
fn claim_terabyte(block: &mut [u8]) {
    let mut header = tar::Header::new_gnu();
    header.as_mut_bytes().copy_from_slice(block);
    header.set_size(1 << 40);
    header.set_cksum();
    block.copy_from_slice(header.as_bytes());
}

/// How many 512-byte blocks `manifest.json` and `config.json` take before the layer's header.
fn manifest_blocks(outer: &[u8]) -> usize {
    let mut archive = tar::Archive::new(outer);
    archive
        .entries()
        .unwrap()
        .take(2)
        .map(|e| (e.unwrap().size() as usize).div_ceil(512))
        .sum()
}

/// A wheel whose one module's central-directory entry claims, through its zip64
/// extra field, to inflate to `claim` bytes, while it holds a few.
fn wheel_with_size_claim(claim: u64) -> Vec<u8> {
    let members: [(&str, &[u8]); 2] = [
        ("claim/__init__.py", b"x = 1\n"),
        (
            "claim-1.0.dist-info/METADATA",
            b"Name: claim\nVersion: 1.0\n",
        ),
    ];
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (index, (name, data)) in members.iter().enumerate() {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let len = data.len() as u32;
        // Local header: stored, with its true sizes.
        out.extend(0x04034b50u32.to_le_bytes());
        out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        out.extend(crc.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(*data);
        // Central directory entry: the first member's size is a zip64 claim.
        let claims = index == 0;
        let mut extra = Vec::new();
        if claims {
            extra.extend(1u16.to_le_bytes());
            extra.extend(8u16.to_le_bytes());
            extra.extend(claim.to_le_bytes());
        }
        central.extend(0x02014b50u32.to_le_bytes());
        central.extend([20, 3, 45, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        central.extend(crc.to_le_bytes());
        central.extend(len.to_le_bytes());
        central.extend(if claims { u32::MAX } else { len }.to_le_bytes());
        central.extend((name.len() as u16).to_le_bytes());
        central.extend((extra.len() as u16).to_le_bytes());
        central.extend([0, 0, 0, 0, 0, 0]);
        central.extend((0o100644u32 << 16).to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
        central.extend(extra);
    }
    let central_at = out.len() as u32;
    out.extend(&central);
    out.extend(0x06054b50u32.to_le_bytes());
    out.extend([0, 0, 0, 0, 2, 0, 2, 0]);
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn a_wheel_claiming_a_terabyte_member_builds_from_what_it_holds() {
    let wheel = wheel_with_size_claim(1 << 40);
    let claimed = zip::ZipArchive::new(std::io::Cursor::new(&wheel))
        .unwrap()
        .by_index(0)
        .unwrap()
        .size();
    assert_eq!(claimed, 1 << 40, "the test wheel must carry the claim");
    let index = LocalIndex::serve(wheel);
    let project = project_with_wheel("claim", "claim-1.0-py3-none-any.whl", &index);
    let out_dir = project.path().join("out");
    let out = Pyship::new().run(&[
        "build",
        project.path().to_str().unwrap(),
        "--base",
        &python_base(),
        "--output",
        &format!("oci:{}", out_dir.display()),
    ]);
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
}

/// A project whose one dependency, `name`, is the wheel `index` serves.
fn project_with_wheel(name: &str, wheel_file: &str, index: &LocalIndex) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        format!("[project]\nname = \"svc\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\ndependencies = [\"{name}\"]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".python-version"), "3.11\n").unwrap();
    std::fs::write(dir.path().join("main.py"), "print('hi')\n").unwrap();
    std::fs::write(
        dir.path().join("uv.lock"),
        format!(
            "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"svc\"\nversion = \"0.1.0\"\nsource = {{ virtual = \".\" }}\ndependencies = [{{ name = \"{name}\" }}]\n\n[package.metadata]\nrequires-dist = [{{ name = \"{name}\" }}]\n\n[[package]]\nname = \"{name}\"\nversion = \"1.0\"\nsource = {{ registry = \"http://127.0.0.1/simple\" }}\nwheels = [{{ url = \"http://127.0.0.1:{}/{wheel_file}\", hash = \"sha256:{}\", size = {} }}]\n",
            index.port, index.sha256, index.size
        ),
    )
    .unwrap();
    dir
}
