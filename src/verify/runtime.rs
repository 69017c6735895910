//! Checks that run the image in Docker or Podman with the hardened flags of a
//! production deployment. Every container and image this creates carries the label
//! `pyship.verify=<run>` and is removed when the run ends, fails or is interrupted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::contract::HARDENED_RUN_FLAGS;
use crate::transport::engine::Engine;
use crate::verify::check::Check;

/// The label on everything a verify run creates.
pub const LABEL: &str = "pyship.verify";

/// What the runtime checks need to know.
pub struct RuntimeOptions {
    pub port: u16,
    pub health_path: String,
    pub health_timeout: Duration,
    pub grace: Duration,
    pub env: Vec<(String, String)>,
    pub require_env: Vec<String>,
}

/// One verify run's use of the engine: removes what it created when dropped.
pub struct Session {
    engine: Engine,
    run: String,
    /// Shared with the interrupt handler, which must remove it too.
    loaded_image: Arc<Mutex<Option<String>>>,
}

impl Session {
    pub fn new(engine: Engine) -> Session {
        let run = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let session = Session {
            engine,
            run,
            loaded_image: Arc::default(),
        };
        session.cleanup_on_interrupt();
        session
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// Records an image this run loaded, to be removed at the end.
    pub fn adopt_image(&mut self, name: String) {
        *self.loaded_image.lock().unwrap_or_else(|e| e.into_inner()) = Some(name);
    }

    /// Runs an engine command; its trimmed stdout, or an error with the engine's reason.
    fn ok(&self, args: &[&str]) -> Result<String> {
        self.engine.ok(self.engine.command().args(args), "")
    }

    /// Runs an engine command whatever its outcome (for cleanup and logs).
    fn run(&self, args: &[&str]) -> Result<std::process::Output> {
        self.engine.output(self.engine.command().args(args))
    }

    /// Starts `image` detached with the hardened flags and `env`.
    fn start(&self, image: &str, port: u16, env: &[(String, String)]) -> Result<Container<'_>> {
        let label = format!("{LABEL}={}", self.run);
        let publish = format!("127.0.0.1::{port}");
        let mut args: Vec<String> = ["run", "-d", "--label", &label]
            .iter()
            .chain(HARDENED_RUN_FLAGS)
            .chain(&["-p", &publish])
            .map(|s| s.to_string())
            .collect();
        for (key, value) in env {
            args.push("-e".into());
            args.push(format!("{key}={value}"));
        }
        args.push(image.to_owned());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = self.ok(&argv).context("cannot start the image")?;
        Ok(Container { session: self, id })
    }

    /// Registers a Ctrl-C handler that removes this run's containers and image.
    /// Removes this run's containers and loaded image when the run is interrupted by
    /// Ctrl-C or stopped by SIGTERM (a CI job's cancel), as it would at its end.
    fn cleanup_on_interrupt(&self) {
        let (engine, run, image) = (
            self.engine.clone(),
            self.run.clone(),
            Arc::clone(&self.loaded_image),
        );
        let _ = ctrlc::set_handler(move || {
            clean_up(&engine, &run, &image);
            eprintln!("interrupted: removed the containers and image this run created");
            std::process::exit(130);
        });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        clean_up(&self.engine, &self.run, &self.loaded_image);
    }
}

fn clean_up(engine: &Engine, run: &str, image: &Mutex<Option<String>>) {
    remove_labelled(engine, run);
    let image = image.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(image) = image {
        let _ = engine.output(engine.command().args(["rmi", "-f", &image]));
    }
}

fn remove_labelled(engine: &Engine, run: &str) {
    let filter = format!("label={LABEL}={run}");
    if let Ok(out) = engine.output(engine.command().args(["ps", "-aq", "--filter", &filter])) {
        let ids = String::from_utf8_lossy(&out.stdout);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = engine.output(engine.command().args(["rm", "-f"]).args(&ids));
        }
    }
}

struct Container<'a> {
    session: &'a Session,
    id: String,
}

impl Container<'_> {
    fn inspect(&self, format: &str) -> Result<String> {
        self.session.ok(&["inspect", "-f", format, &self.id])
    }

    fn host_port(&self, port: u16) -> Result<u16> {
        let mapping = self
            .session
            .ok(&["port", &self.id, &format!("{port}/tcp")])?;
        mapping
            .lines()
            .find_map(|line| line.rsplit(':').next()?.trim().parse().ok())
            .with_context(|| format!("the engine published no host port for {port}"))
    }

    fn running(&self) -> bool {
        self.inspect("{{.State.Running}}")
            .is_ok_and(|s| s == "true")
    }

    fn logs(&self) -> String {
        self.session
            .run(&["logs", &self.id])
            .map(|out| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .unwrap_or_default()
    }

    fn exit_code(&self) -> Option<i64> {
        self.inspect("{{.State.ExitCode}}").ok()?.parse().ok()
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self.session.run(&["rm", "-f", &self.id]);
    }
}

/// Runs the image once for health, user, logs and stop; once more per required variable.
pub fn checks(engine: &Session, image: &str, options: &RuntimeOptions) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let container = engine.start(image, options.port, &options.env)?;
    let health = health(&container, options);
    let healthy = health.status == crate::verify::check::Status::Pass;
    checks.push(health);
    checks.push(pid1_user(&container));
    checks.push(logs(&container, healthy));
    checks.push(graceful_stop(&container, options.grace));
    drop(container);
    checks.push(other_port(engine, image, options)?);
    for name in &options.require_env {
        checks.push(required_env(engine, image, options, name)?);
    }
    Ok(checks)
}

const PORT_ID: &str = "port";
const PORT_TITLE: &str = "listens on the port $PORT names";

/// Runs the image again with `PORT` set to another port: platforms such as Cloud Run
/// and Heroku choose the port, and a server bound to a fixed one never answers there.
/// Any HTTP answer counts: whether it is healthy is the health check's question.
fn other_port(engine: &Session, image: &str, options: &RuntimeOptions) -> Result<Check> {
    let port = if options.port == u16::MAX {
        options.port - 1
    } else {
        options.port + 1
    };
    let mut env: Vec<(String, String)> = options
        .env
        .iter()
        .filter(|(k, _)| k != "PORT")
        .cloned()
        .collect();
    env.push(("PORT".to_owned(), port.to_string()));
    let container = engine.start(image, port, &env)?;
    Ok(match first_answer(&container, port, options, |_| true) {
        Ok((status, took)) => Check::pass(
            PORT_ID,
            PORT_TITLE,
            format!("PORT={port}: {status} after {took:.1}s"),
        ),
        Err(why) => Check::fail(
            PORT_ID,
            PORT_TITLE,
            format!("PORT={port}: {why}"),
            "start the server on the port in $PORT (pyship build does this), not a fixed one",
        ),
    })
}

fn health(container: &Container<'_>, options: &RuntimeOptions) -> Check {
    const ID: &str = "health";
    let title = format!("GET {} answers 2xx", options.health_path);
    match first_answer(container, options.port, options, |s| s.is_success()) {
        Ok((status, took)) => Check::pass(
            ID,
            &title,
            format!("{status} after {took:.1}s (start to ready)"),
        ),
        Err(why) => Check::fail(
            ID,
            &title,
            why,
            "make the health path answer 200 once the app is ready, or set --health-path / --port",
        ),
    }
}

/// Polls the health path on `port` until an answer `accept` takes arrives: its status
/// and the seconds it took, or why none came.
fn first_answer(
    container: &Container<'_>,
    port: u16,
    options: &RuntimeOptions,
    accept: impl Fn(reqwest::StatusCode) -> bool,
) -> std::result::Result<(reqwest::StatusCode, f64), String> {
    let host_port = container
        .host_port(port)
        .map_err(|err| format!("{err}: EXPOSE the port the server listens on, or pass --port"))?;
    let url = format!("http://127.0.0.1:{host_port}{}", options.health_path);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|err| err.to_string())?;
    let started = Instant::now();
    let mut last = "no answer".to_owned();
    while started.elapsed() < options.health_timeout {
        if !container.running() {
            let tail: String = container
                .logs()
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(format!(
                "the container exited with {:?} before answering: {tail}",
                container.exit_code()
            ));
        }
        match client.get(&url).send() {
            Ok(response) if accept(response.status()) => {
                return Ok((response.status(), started.elapsed().as_secs_f64()));
            }
            Ok(response) => last = response.status().to_string(),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "{last} within {}s on port {port}",
        options.health_timeout.as_secs()
    ))
}

fn pid1_user(container: &Container<'_>) -> Check {
    const ID: &str = "pid1-user";
    const TITLE: &str = "PID 1 runs as a non-zero UID";
    // Read inside the container: the host's /proc shows another PID namespace on a
    // remote or rootless engine. Not every image has `cat`; a Python image has Python.
    let readers: [&[&str]; 2] = [
        &["cat", "/proc/1/status"],
        &["python3", "-c", "print(open('/proc/1/status').read())"],
    ];
    let status = readers.iter().find_map(|reader| {
        let mut args = vec!["exec", container.id.as_str()];
        args.extend_from_slice(reader);
        container.session.ok(&args).ok()
    });
    let uid = status.as_deref().and_then(|s| {
        s.lines().find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
    });
    match uid {
        Some(0) => Check::fail(
            ID,
            TITLE,
            "PID 1 has UID 0",
            "set USER to a non-root numeric UID",
        ),
        Some(uid) => Check::pass(ID, TITLE, format!("PID 1 has UID {uid}")),
        None => Check::skip(
            ID,
            TITLE,
            "could not read PID 1's status (the container exited?)",
        ),
    }
}

fn logs(container: &Container<'_>, healthy: bool) -> Check {
    const ID: &str = "logs";
    const TITLE: &str = "logs reach stdout/stderr";
    let logs = container.logs();
    let lines = logs.lines().filter(|l| !l.trim().is_empty()).count();
    if lines > 0 {
        return Check::pass(
            ID,
            TITLE,
            format!(
                "{lines} lines, last: {}",
                logs.lines()
                    .last()
                    .unwrap_or("")
                    .chars()
                    .take(100)
                    .collect::<String>()
            ),
        );
    }
    let when = if healthy {
        "after start-up and a health request"
    } else {
        "after start-up"
    };
    Check::fail(
        ID,
        TITLE,
        format!("nothing logged {when}"),
        "log to stdout/stderr (not files), and set PYTHONUNBUFFERED=1 so lines are not held in a buffer",
    )
}

fn graceful_stop(container: &Container<'_>, grace: Duration) -> Check {
    const ID: &str = "graceful-stop";
    const TITLE: &str = "SIGTERM ends it with exit 0";
    if !container.running() {
        return Check::fail(
            ID,
            TITLE,
            format!(
                "the container had already exited with {:?}",
                container.exit_code()
            ),
            "keep the server in the foreground as PID 1",
        );
    }
    let started = Instant::now();
    let grace_secs = grace.as_secs().to_string();
    if let Err(err) = container
        .session
        .ok(&["stop", "-t", &grace_secs, &container.id])
    {
        return Check::fail(ID, TITLE, err.to_string(), "check the engine");
    }
    let took = started.elapsed().as_secs_f64();
    match container.exit_code() {
        Some(0) => Check::pass(ID, TITLE, format!("exited 0 in {took:.1}s")),
        Some(137) => Check::fail(
            ID,
            TITLE,
            format!("killed after the {grace_secs}s grace period (exit 137): SIGTERM was ignored"),
            "use an exec-form CMD so the server is PID 1 and handles SIGTERM (or run with --init)",
        ),
        code => Check::fail(
            ID,
            TITLE,
            format!("exited {code:?} after {took:.1}s"),
            "handle SIGTERM by finishing requests and exiting 0",
        ),
    }
}

fn required_env(
    engine: &Session,
    image: &str,
    options: &RuntimeOptions,
    name: &str,
) -> Result<Check> {
    let id = format!("required-env:{name}");
    let title = format!("refuses to start without {name}");
    let env: Vec<(String, String)> = options
        .env
        .iter()
        .filter(|(k, _)| k != name)
        .cloned()
        .collect();
    let container = engine.start(image, options.port, &env)?;
    let started = Instant::now();
    while container.running() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = container.logs();
    let fix = format!("check {name} at start-up and exit non-zero with a message naming it");
    Ok(match (container.running(), container.exit_code()) {
        (true, _) => Check::fail(
            &id,
            &title,
            format!("still running after 20s without {name}"),
            fix,
        ),
        (false, Some(0)) => Check::fail(&id, &title, format!("exited 0 without {name}"), fix),
        (false, code) if logs.contains(name) => Check::pass(
            &id,
            &title,
            format!(
                "exited {} and said: {}",
                code.unwrap_or(-1),
                logs.lines().find(|l| l.contains(name)).unwrap_or("").trim()
            ),
        ),
        (false, code) => Check::fail(
            &id,
            &title,
            format!("exited {} without naming {name}", code.unwrap_or(-1)),
            fix,
        ),
    })
}
