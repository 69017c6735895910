//! The parsers behind `pyship build` return an error on bad input, never panic. The
//! fuzz targets in `fuzz/` explore further; this runs a fixed, seeded set of mutations
//! of real inputs in the normal suite.

use std::path::PathBuf;

/// A small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flips, deletes, duplicates and splices bytes of `input`.
fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        if out.is_empty() {
            out.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out[at] = rng.next() as u8,
            1 => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(64)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.below(out.len());
                out.splice(to..to, copy);
            }
            _ => {
                let interesting: &[&[u8]] = &[
                    b"\"", b"[", b"]", b"{", b"}", b"=", b"\n", b"../", b"\\", b"@", b":", b"\0",
                    b"sha256:",
                ];
                let piece = interesting[rng.below(interesting.len())];
                out.splice(at..at, piece.iter().copied());
            }
        }
    }
    out
}

fn example_lock() -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/hello-fastapi/uv.lock"))
        .unwrap()
}

#[test]
fn uv_lock_mutations() {
    let seed = example_lock();
    let mut rng = Rng(0x5eed_1234);
    pyship::fuzzing::uv_lock(std::str::from_utf8(&seed).unwrap());
    for _ in 0..400 {
        let bytes = mutate(&seed, &mut rng);
        pyship::fuzzing::uv_lock(&String::from_utf8_lossy(&bytes));
    }
}

/// poetry.lock and its pyproject.toml, each mutated against the other as written.
#[test]
fn poetry_lock_mutations() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build/poetry1-flask");
    let lock = std::fs::read(dir.join("poetry.lock")).unwrap();
    let pyproject = std::fs::read(dir.join("pyproject.toml")).unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut rng = Rng(0x5eed_7007);
    pyship::fuzzing::poetry_lock(&text(&lock), &text(&pyproject));
    for _ in 0..200 {
        pyship::fuzzing::poetry_lock(&text(&mutate(&lock, &mut rng)), &text(&pyproject));
        pyship::fuzzing::poetry_lock(&text(&lock), &text(&mutate(&pyproject, &mut rng)));
    }
}

#[test]
fn reference_mutations() {
    let seeds = [
        "python:3.12-slim",
        "127.0.0.1:5000/team/app:v1",
        "ghcr.io/o/a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "oci:/tmp/x:tag",
        "docker-archive:a.tar",
    ];
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let seed = seeds[rng.below(seeds.len())].as_bytes();
        pyship::fuzzing::reference(&String::from_utf8_lossy(&mutate(seed, &mut rng)));
    }
}

#[test]
fn wheel_mutations() {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in [
        ("fuzz/__init__.py", "x = 1\n"),
        ("fuzz-1.0.dist-info/METADATA", "Name: fuzz\n"),
        (
            "fuzz-1.0.dist-info/entry_points.txt",
            "[console_scripts]\nf = fuzz:main\n",
        ),
        ("fuzz-1.0.data/scripts/s", "#!python\n"),
    ] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, body.as_bytes()).unwrap();
    }
    let seed = zip.finish().unwrap().into_inner();
    pyship::fuzzing::wheel(&seed);
    let mut rng = Rng(7);
    for _ in 0..1500 {
        pyship::fuzzing::wheel(&mutate(&seed, &mut rng));
    }
}

/// A tar of `members`: (name, contents), with `->` in a name making a symlink.
fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        match name.split_once(" -> ") {
            Some((link, target)) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, link, target).unwrap();
            }
            None => {
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, name, *bytes).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

fn seed_layer() -> Vec<u8> {
    tar_of(&[
        ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
        ("usr/bin/python3.11", b"\x7fELF"),
        ("usr/bin/python3 -> python3.11", b""),
        ("lib/x86_64-linux-gnu/libc.so.6", b""),
        (
            "var/lib/dpkg/status",
            b"Package: python3.11\nVersion: 3.11.2-6\n\n",
        ),
        ("app/.wh.old", b""),
        ("app/.wh..wh..opq", b""),
        ("app/site-packages/x-1.0.dist-info/METADATA", b"Name: x\n"),
    ])
}

#[test]
fn layer_mutations() {
    let seed = seed_layer();
    pyship::fuzzing::layer(&seed);
    let mut rng = Rng(0x1a7e);
    for _ in 0..1500 {
        pyship::fuzzing::layer(&mutate(&seed, &mut rng));
    }
}

/// A `.deb` with uncompressed members, so mutations reach the tar headers: a base-files
/// that assembles on its own.
fn seed_deb() -> Vec<u8> {
    let control = tar_of(&[
        (
            "./control",
            b"Package: base-files\nVersion: 1.0\nArchitecture: amd64\n",
        ),
        (
            "./md5sums",
            b"0cc175b9c0f1b6a831c399e269772661  usr/lib/os-release\n",
        ),
    ]);
    let data = tar_of(&[
        ("./usr/lib/os-release", b"ID=debian\n"),
        ("./etc/os-release -> ../usr/lib/os-release", b""),
        ("./bin/true", b"\x7fELF"),
        ("./usr/share/ca-certificates/mozilla/A.crt", b"A\n"),
        ("./usr/share/doc/base-files/copyright", b"GPL\n"),
    ]);
    let mut deb = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control),
        ("data.tar", data),
    ] {
        let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        deb.append(&header, bytes.as_slice()).unwrap();
    }
    deb.into_inner().unwrap()
}

#[test]
fn deb_mutations() {
    let seed = seed_deb();
    pyship::fuzzing::deb(&seed);
    let mut rng = Rng(0xdeb5);
    for _ in 0..400 {
        pyship::fuzzing::deb(&mutate(&seed, &mut rng));
    }
}

#[test]
fn docker_archive_mutations() {
    let layer = seed_layer();
    let config = br#"{"architecture":"amd64","os":"linux","config":{"User":"1001"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest =
        br#"[{"Config":"config.json","RepoTags":["a:b"],"Layers":["l/layer.tar","k/layer.tar"]}]"#;
    let seed = tar_of(&[
        ("manifest.json", manifest),
        ("config.json", config),
        ("l/layer.tar", &layer),
        ("k/layer.tar -> ../l/layer.tar", b""),
    ]);
    pyship::fuzzing::docker_archive(&seed);
    let mut rng = Rng(0xa4c1);
    for _ in 0..300 {
        pyship::fuzzing::docker_archive(&mutate(&seed, &mut rng));
    }
}

#[test]
fn manifest_mutations() {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}],"annotations":{"a":"b"}}"#;
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
    let seeds: [&[u8]; 2] = [manifest, index];
    let mut rng = Rng(0x0c1);
    for seed in seeds {
        pyship::fuzzing::manifest(seed);
    }
    for _ in 0..400 {
        let seed = seeds[rng.below(seeds.len())];
        pyship::fuzzing::manifest(&mutate(seed, &mut rng));
    }
}

#[test]
fn requirements_mutations() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build");
    let hashed =
        std::fs::read_to_string(fixture.join("requirements-flask/requirements.txt")).unwrap();
    let seeds = [
        hashed.as_str(),
        "-c base.txt\n-i https://u:${TOKEN}@index.example/simple\nflask[async]==3.1.0 ; python_version >= '3.9' \\\n  --hash=sha256:00\n",
    ];
    let mut rng = Rng(0x5eed_7e47);
    for seed in seeds {
        pyship::fuzzing::requirements(seed);
    }
    for _ in 0..300 {
        let seed = seeds[rng.below(seeds.len())].as_bytes();
        pyship::fuzzing::requirements(&String::from_utf8_lossy(&mutate(seed, &mut rng)));
    }
}

#[test]
fn simple_page_mutations() {
    let json: &[u8] = br#"{"meta": {"api-version": "1.1"}, "name": "demo", "files": [{"filename": "demo-1.0-py3-none-any.whl", "url": "../../f/demo-1.0-py3-none-any.whl", "hashes": {"sha256": "00"}, "requires-python": ">=3.9", "yanked": "why", "size": 3}]}"#;
    let html: &[u8] = br#"<!DOCTYPE html><base href="/x/"><a href="demo-1.0.tar.gz#sha256=00" data-requires-python="&gt;=3.9" data-yanked>demo-1.0.tar.gz</a>"#;
    let seeds = [json, html];
    let mut rng = Rng(0x5eed_9a6e);
    for _ in 0..400 {
        let seed = seeds[rng.below(seeds.len())];
        pyship::fuzzing::simple_page(&mutate(seed, &mut rng));
    }
}

#[test]
fn debian_packages_mutations() {
    let seed = b"Package: python3.11\nVersion: 3.11.2-6+deb12u5\nArchitecture: amd64\nPre-Depends: libc6 (>= 2.36)\nDepends: libpython3.11-stdlib (= 3.11.2-6+deb12u5), media-types | mime-support, python3:any (<< 3.12~) [amd64]\nProvides: python3.11-venv (= 3.11.2)\nFilename: pool/main/p/python3.11/python3.11_3.11.2-6+deb12u5_amd64.deb\nSize: 575032\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\nDescription: x\n more\n .\n\nPackage: libc6\nVersion: 1:2.36-9\nArchitecture: all\nDepends: libgcc-s1 | debconf-2.0\nFilename: pool/main/g/glibc/libc6.deb\nSize: 1\nSHA256: 1111111111111111111111111111111111111111111111111111111111111111\n";
    pyship::fuzzing::debian_packages(std::str::from_utf8(seed).unwrap());
    let mut rng = Rng(0xdeb_822);
    for _ in 0..2000 {
        pyship::fuzzing::debian_packages(&String::from_utf8_lossy(&mutate(seed, &mut rng)));
    }
}

#[test]
fn debian_release_mutations() {
    let seed = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nSuite: stable\nVersion: 12.8\nCodename: bookworm\nDate: Sat, 09 Nov 2024 10:18:52 UTC\nValid-Until: Sat, 16 Nov 2024 10:18:52 UTC\nSHA256:\n 1111111111111111111111111111111111111111111111111111111111111111 8789 main/binary-amd64/Packages.xz\n- escaped\n-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQRNZP7BGcICkGfW55H40lhbh4PUgQUCZy8kfAAKCRD40lhbh4PU\ngWlaAQDzIsQ5Kv6b\n=abcd\n-----END PGP SIGNATURE-----\n";
    pyship::fuzzing::debian_release(seed);
    let mut rng = Rng(0x1e1ea5e);
    for _ in 0..1000 {
        pyship::fuzzing::debian_release(&mutate(seed, &mut rng));
    }
}
