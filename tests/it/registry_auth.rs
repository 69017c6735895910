//! Pushing to a registry that requires a login: basic auth from the environment works;
//! without credentials the push stops with one line and no tag is created.

use crate::common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;

/// A registry on a free loopback port that accepts only `pyship` / `s3cret`.
struct AuthRegistry {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl AuthRegistry {
    fn start() -> AuthRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let hash = bcrypt::hash("s3cret", 5).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("pyship:{hash}\n")).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\nhttp:\n  addr: {address}\nauth:\n  htpasswd:\n    realm: pyship-test\n    path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", dir.path().join("config.yml").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry) on PATH");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the auth registry did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        AuthRegistry {
            child,
            address,
            _dir: dir,
        }
    }

    /// Lists the repository's tags with the right login, through skopeo.
    fn tags(&self, repository: &str) -> String {
        let out = Command::new("skopeo")
            .args([
                "list-tags",
                "--tls-verify=false",
                "--creds",
                "pyship:s3cret",
                &format!("docker://{}/{repository}", self.address),
            ])
            .output()
            .unwrap();
        format!("{}{}", stdout(&out), stderr(&out))
    }
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn basic_auth_push_with_credentials_and_a_clear_refusal_without() {
    let registry = AuthRegistry::start();
    let project = copy_example("hello-fastapi");
    let pyship = Pyship::new();
    let reference = format!("{}/team/hello:v1", registry.address);
    // Builds and pushes with the given login (None: no credentials anywhere).
    let push = |login: Option<(&str, &str)>| {
        let mut command = pyship.command();
        command.args([
            "build",
            project.path().to_str().unwrap(),
            "--base",
            &python_base(),
            "--push",
            &reference,
        ]);
        command.env("DOCKER_CONFIG", "/nonexistent");
        match login {
            Some((user, password)) => command
                .env("PYSHIP_REGISTRY_USERNAME", user)
                .env("PYSHIP_REGISTRY_PASSWORD", password),
            None => command
                .env_remove("PYSHIP_REGISTRY_USERNAME")
                .env_remove("PYSHIP_REGISTRY_PASSWORD"),
        };
        command.output().unwrap()
    };

    let denied = push(None);
    assert_eq!(denied.status.code(), Some(2), "{}", stderr(&denied));
    let err = stderr(&denied);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("needs a login") && err.contains("PYSHIP_REGISTRY_USERNAME"),
        "{err}"
    );
    assert!(
        !registry.tags("team/hello").contains("v1"),
        "a tag exists after a refused push"
    );

    let wrong = push(Some(("pyship", "wrong")));
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("access denied"),
        "{}",
        stderr(&wrong)
    );
    assert!(
        !registry.tags("team/hello").contains("v1"),
        "a tag exists after a push with a wrong password"
    );

    let pushed = push(Some(("pyship", "s3cret")));
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        stdout(&pushed).contains(&format!("{}/team/hello@sha256:", registry.address)),
        "{}",
        stdout(&pushed)
    );
    assert!(
        registry.tags("team/hello").contains("v1"),
        "{}",
        registry.tags("team/hello")
    );
    let inspect = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            "pyship:s3cret",
            &format!("docker://{reference}"),
        ])
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "skopeo cannot read the pushed image: {}",
        stderr(&inspect)
    );
}
