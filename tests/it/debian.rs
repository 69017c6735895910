//! `--base deb:SUITE[+PACKAGE]`: bases pyship assembles from Debian's signed packages,
//! built from the real archive and run the way users run them: hardened, `-e PORT=8080`.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::fake_http::{FakeServer, proxy};
use crate::common::*;

/// The Debian archive, and the address a proxy of it answers on.
const ARCHIVE: &str = "deb.debian.org";

/// Builds `project` on `base` into the engine as `tag`, and into an OCI layout.
fn build_loaded(pyship: &Pyship, project: &Path, base: &str, tag: &str, layout: &Path) -> Output {
    let output = format!("oci:{}", layout.display());
    pyship.run(&[
        "build",
        project.to_str().unwrap(),
        "--base",
        base,
        "--load",
        "-t",
        tag,
        "--output",
        &output,
    ])
}

fn assert_built(out: &Output) {
    assert!(
        out.status.success(),
        "build failed: {}\n{}",
        stderr(out),
        stdout(out)
    );
}

/// `python -c SCRIPT` in the running container; its standard output.
fn python(container: &Container, script: &str) -> String {
    docker_ok(&["exec", &container.0, "python", "-c", script])
}

/// The checks every Debian-made image must pass while it serves: no shell, the runtime
/// user, and the standard library modules that need system libraries or data.
fn assert_runtime(container: &Container) {
    let report = python(
        container,
        "import os, shutil, ssl, sqlite3, ctypes, zoneinfo, uuid, lzma, bz2\n\
         print(os.getuid(), os.getgid())\n\
         print(os.path.lexists('/bin/sh'), shutil.which('sh'), shutil.which('apt'), shutil.which('perl'))\n\
         print(zoneinfo.ZoneInfo('Europe/Paris').key, sqlite3.sqlite_version_info >= (3, 0))\n\
         print(ssl.create_default_context().cert_store_stats()['x509_ca'] > 100)\n\
         print(len(lzma.compress(b'x')) > 0, len(bz2.compress(b'x')) > 0, uuid.uuid4().version, ctypes.sizeof(ctypes.c_void_p))",
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "1001 1001", "{report}");
    assert_eq!(
        lines[1], "False None None None",
        "a shell or tool is in the image: {report}"
    );
    assert_eq!(lines[2], "Europe/Paris True", "{report}");
    assert_eq!(
        lines[3], "True",
        "the system CA bundle is not loaded: {report}"
    );
    assert_eq!(lines[4], "True True 4 8", "{report}");
}

/// Stops the container with SIGTERM and asserts it exited 0.
fn assert_stops_cleanly(container: &Container) {
    docker_ok(&["stop", "-t", "10", &container.0]);
    let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]);
    assert_eq!(code.trim(), "0", "the service did not exit 0 on SIGTERM");
}

/// A certificate authority and a `localhost` server certificate it signed, made with
/// the openssl command line in `dir`.
fn test_ca(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pyship test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

/// An HTTPS server on 127.0.0.1 with the certificate `test_ca` made; killed on drop.
struct TlsServer(Child, u16);

impl TlsServer {
    fn start(dir: &Path) -> TlsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(port.to_string())
            .args(["-cert", "server.pem", "-key", "server.key"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        TlsServer(child, port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn example_on_bookworm_runs_hardened_with_no_shell_and_the_system_ca_bundle() {
    let project = copy_example("hello-fastapi");
    test_ca(project.path());
    let pyproject = project.path().join("pyproject.toml");
    let mut text = std::fs::read_to_string(&pyproject).unwrap();
    text.push_str("\n[tool.pyship]\nbase-ca-certificates = [\"ca.pem\"]\n");
    std::fs::write(&pyproject, text).unwrap();

    let pyship = Pyship::new();
    let layout = tempfile::tempdir().unwrap();
    let tag = format!("pyship-test/deb-example:{}", std::process::id());
    let out = build_loaded(&pyship, project.path(), "deb:bookworm", &tag, layout.path());
    assert_built(&out);
    assert!(
        stderr(&out).contains("debian  deb:bookworm (bookworm"),
        "{}",
        stderr(&out)
    );

    let (container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(30)),
        Some(200)
    );
    assert_runtime(&container);
    // The standard library was compiled as the interpreter package's postinst would.
    assert_pyc(&container, "/usr/lib/python3.11/json/decoder.py", 1);
    // Only what was asked for: no ODBC library unless +libodbc2 names it.
    let odbc = docker(&[
        "exec",
        &container.0,
        "python",
        "-c",
        "import ctypes; ctypes.CDLL('libodbc.so.2')",
    ]);
    assert!(
        !odbc.status.success(),
        "libodbc.so.2 loaded though nobody asked for it"
    );
    let packages = python(
        &container,
        "print(sum(1 for l in open('/var/lib/dpkg/status') if l.startswith('Package: ')))",
    );
    assert!(packages.trim().parse::<u32>().unwrap() >= 15, "{packages}");
    assert_stops_cleanly(&container);

    // The bundle holds the project's CA: an HTTPS request to a server it signed works.
    let server = TlsServer::start(project.path());
    let fetch = format!(
        "import urllib.request; print(urllib.request.urlopen('https://localhost:{}/').status)",
        server.1
    );
    let https = docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        &tag,
        "python",
        "-c",
        &fetch,
    ]);
    assert_eq!(
        stdout(&https).trim(),
        "200",
        "HTTPS failed: {}",
        stderr(&https)
    );

    // The SBOM lists the base's Debian packages with their versions.
    let sbom = pyship.run(&["sbom", &format!("oci:{}", layout.path().display())]);
    assert!(sbom.status.success(), "{}", stderr(&sbom));
    let text = stdout(&sbom);
    for package in [
        "pkg:deb/debian/libssl3@",
        "pkg:deb/debian/python3.11-minimal@",
        "pkg:deb/debian/tzdata@",
    ] {
        assert!(text.contains(package), "the SBOM lacks {package}");
    }
    docker(&["rmi", "-f", &tag]);
}

#[test]
fn python_313_on_trixie_gets_the_system_libraries_it_asks_for() {
    let project = copy_fixture("build", "trixie-odbc");
    let pyship = Pyship::new();
    let layout = tempfile::tempdir().unwrap();
    let tag = format!("pyship-test/deb-trixie:{}", std::process::id());

    // Without libodbc2 the build says which package pyodbc's module needs.
    let bare = copy_fixture("build", "trixie-odbc");
    let pyproject = bare.path().join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        text.replace("base-packages = [\"libodbc2\"]", ""),
    )
    .unwrap();
    let out = pyship.run(&[
        "build",
        bare.path().to_str().unwrap(),
        "-o",
        &format!("oci:{}", layout.path().display()),
    ]);
    assert_built(&out);
    assert!(
        stderr(&out).contains("links libodbc.so.2, which neither the wheels nor deb:trixie have (importing it will fail): add its package to the base: --base deb:trixie+libodbc2"),
        "{}",
        stderr(&out)
    );

    // +libpq5 on the command line, libodbc2 from [tool.pyship] base-packages.
    let out = build_loaded(
        &pyship,
        project.path(),
        "deb:trixie+libpq5",
        &tag,
        layout.path(),
    );
    assert_built(&out);

    let (container, port) = run_hardened(&tag);
    assert_eq!(
        wait_for_http(port, "/health", Duration::from_secs(30)),
        Some(200)
    );
    assert_runtime(&container);
    let versions = python(
        &container,
        "import sys, ctypes, pyodbc; ctypes.CDLL('libpq.so.5'); print(sys.version_info[:2], pyodbc.version)",
    );
    assert!(versions.starts_with("(3, 13) "), "{versions}");
    assert_stops_cleanly(&container);
    docker(&["rmi", "-f", &tag]);
}

/// A proxy of Debian's archive on 127.0.0.1 that counts what it is asked.
fn counting_mirror() -> (FakeServer, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    let server = FakeServer::start(move |request| {
        count.fetch_add(1, Ordering::SeqCst);
        proxy(request, ARCHIVE, "")
    });
    (server, asked)
}

#[test]
fn a_debian_base_is_reproducible_and_a_second_build_reads_nothing_from_the_network() {
    let (mirror, asked) = counting_mirror();
    let project = copy_example("hello-fastapi");
    let build = |pyship: &Pyship, layout: &Path| {
        let output = format!("oci:{}", layout.display());
        let out = pyship
            .command()
            .env("PYSHIP_DEBIAN_MIRROR", format!("{}/debian", mirror.url()))
            .env(
                "PYSHIP_DEBIAN_SECURITY_MIRROR",
                format!("{}/debian-security", mirror.url()),
            )
            .args([
                "build",
                project.path().to_str().unwrap(),
                "--base",
                "deb:bookworm",
                "-o",
                &output,
            ])
            .output()
            .unwrap();
        assert_built(&out);
        layer_digests(&layout_manifest(layout))
    };
    let (first, second) = (Pyship::new(), Pyship::new());
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let cold = build(&first, a.path());
    assert!(
        asked.load(Ordering::SeqCst) > 0,
        "the archive was never asked"
    );

    let before = asked.load(Ordering::SeqCst);
    let warm = build(&first, b.path());
    assert_eq!(
        asked.load(Ordering::SeqCst),
        before,
        "the warm build asked the archive again"
    );
    assert_eq!(cold, warm);

    let elsewhere = build(&second, c.path());
    assert_eq!(cold, elsewhere, "another cache made other layers");
    assert_eq!(
        std::fs::read(a.path().join("index.json")).unwrap(),
        std::fs::read(c.path().join("index.json")).unwrap(),
        "another cache made another image"
    );
}

#[test]
fn bad_debian_bases_are_refused_in_one_line_naming_the_fix() {
    let project = copy_example("hello-fastapi");
    let pyship = Pyship::new();
    let refuse = |base: &str, wanted: &[&str]| {
        let out = pyship.run(&["build", project.path().to_str().unwrap(), "--base", base]);
        assert_eq!(out.status.code(), Some(2), "{base}: {}", stderr(&out));
        let err = stderr(&out);
        let last = err.lines().last().unwrap_or("");
        for part in wanted {
            assert!(
                last.contains(part),
                "{base}: {last:?} lacks {part:?}\n{err}"
            );
        }
        assert!(pyship.leftovers().is_empty());
    };
    refuse("deb:bokworm", &["bokworm", "bookworm"]);
    refuse("deb:bookworm+libpq6", &["libpq6", "packages.debian.org"]);
    // The example pins Python 3.11, which trixie does not carry.
    refuse("deb:trixie", &["3.11", "bookworm"]);
    refuse(
        "deb:bookworm+Bad_Name",
        &["Bad_Name", "not a Debian package name"],
    );
}

#[test]
fn bookworm_for_two_cpus_is_one_index_whose_arm64_image_runs_with_its_own_wheels_and_pycs() {
    use crate::multiplatform::{run_platform, skopeo};
    let project = copy_example("hello-fastapi");
    let pyship = Pyship::new();
    let repository = format!("{REGISTRY}/pyship-test/deb-multi");
    let reference = format!("{repository}:{}", std::process::id());
    let out = pyship.run(&[
        "build",
        project.path().to_str().unwrap(),
        "--base",
        "deb:bookworm",
        "--platform",
        "linux/amd64,linux/arm64",
        "--push",
        &reference,
        "--no-attest",
    ]);
    assert_built(&out);
    // The arm64 base's standard library was compiled by the amd64 interpreter of the
    // same Debian build: no emulation, and no base left without bytecode.
    assert!(
        !stderr(&out).contains("gets no bytecode"),
        "{}",
        stderr(&out)
    );
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    for (arch, uname) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let (container, _) = run_platform(&repository, &index, arch);
        assert_eq!(
            python(&container, "import platform; print(platform.machine())"),
            uname
        );
        assert_pyc(&container, "/usr/lib/python3.11/json/decoder.py", 1);
    }
}
