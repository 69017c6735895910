//! Services as people write them, started the way each one runs in production: under
//! the server its lock has, from its Procfile, or by its own `__main__`. Each image is
//! run hardened with `-e PORT=8080`, must answer its health path there, and must stop
//! with exit 0 on SIGTERM.

use crate::common;

use std::time::{Duration, Instant};

use common::*;

/// Fixture, and a word the detected command must contain.
const SERVICES: &[(&str, &str)] = &[
    ("waitress-flask", "waitress"),
    ("hypercorn-quart", "hypercorn"),
    ("aiohttp-module", "svc"),
    ("tornado-script", "server.py"),
    ("procfile-gunicorn", "gunicorn"),
    ("django-site", "site_conf.wsgi:application"),
];

fn fixture(name: &str) -> tempfile::TempDir {
    copy_fixture("serve", name)
}

/// Builds and loads the service; returns the image tag and the command pyship chose.
fn build(name: &str) -> (String, Vec<String>) {
    let project = fixture(name);
    let tag = format!("pyship-serve/{name}:{}", std::process::id());
    let out = Pyship::new().run(&[
        "build",
        project.path().to_str().unwrap(),
        "--base",
        &python_base(),
        "--load",
        "-t",
        &tag,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "build {name}: {}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let command = summary["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (tag, command)
}

/// Runs `tag` hardened on $PORT; returns what went wrong, if anything.
fn serves_and_stops(name: &str, tag: &str) -> Option<String> {
    let (container, port) = run_hardened(tag);
    let logs =
        || stderr(&docker(&["logs", &container.0])) + &stdout(&docker(&["logs", &container.0]));
    if wait_for_http(port, "/health", Duration::from_secs(30)) != Some(200) {
        return Some(format!("{name}: no 200 from /health on $PORT: {}", logs()));
    }
    let started = Instant::now();
    docker_ok(&["stop", "-t", "10", &container.0]);
    let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &container.0]);
    if code != "0" || started.elapsed() > Duration::from_secs(9) {
        return Some(format!(
            "{name}: SIGTERM gave exit {code} after {:?}: {}",
            started.elapsed(),
            logs()
        ));
    }
    None
}

#[test]
fn every_kind_of_service_answers_on_port_and_stops_cleanly() {
    let mut wrong = Vec::new();
    for (name, expected) in SERVICES {
        let (tag, command) = build(name);
        if !command.iter().any(|arg| arg.contains(expected)) {
            wrong.push(format!("{name}: command {command:?} lacks {expected}"));
        }
        wrong.extend(serves_and_stops(name, &tag));
        docker(&["rmi", "-f", &tag]);
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
