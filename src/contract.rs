//! The production contract, written once: where a service lives in its image, who it
//! runs as, where it listens and answers health checks, and the hardened flags it must
//! survive. `build` makes images that keep it, `init` writes Dockerfiles that keep it,
//! and `verify` checks any image against it.

/// The service's code, owned by root and read-only for the runtime user.
pub const APP_DIR: &str = "/app";

/// The virtual environment holding the locked runtime dependencies.
pub const VENV_DIR: &str = "/app/.venv";

/// The non-root user and group the service runs as, fixed so volumes and policies can
/// name it. The same number serves as UID and GID.
pub const APP_UID: u32 = 1001;

/// The runtime user's name and home, resolvable through the image's `/etc/passwd`.
pub const APP_USER: &str = "app";
pub const APP_HOME: &str = "/home/app";

/// The runtime user's `/etc/passwd` line, as every layer that writes one writes it.
pub fn app_passwd_line() -> String {
    format!("{APP_USER}:x:{APP_UID}:{APP_UID}:{APP_USER}:{APP_HOME}:/usr/sbin/nologin")
}

/// The runtime user's `/etc/group` line.
pub fn app_group_line() -> String {
    format!("{APP_USER}:x:{APP_UID}:")
}

/// The port a service listens on unless the project or the user says otherwise.
pub const DEFAULT_PORT: u16 = 8000;

/// The path that must answer 2xx once the service is ready.
pub const HEALTH_PATH: &str = "/health";

/// Seconds a server is given to finish in-flight requests after SIGTERM; engines kill
/// at 10 s by default, so this leaves room to exit cleanly.
pub const GRACEFUL_SECONDS: u32 = 8;

/// The `docker run` flags a production service must survive (seed 004): a read-only
/// root filesystem, no capabilities, no privilege escalation, and a writable `/tmp`.
pub const HARDENED_RUN_FLAGS: &[&str] = &[
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--tmpfs",
    "/tmp",
];

/// The Python of a service that pins none (no `.python-version`, `requires-python`,
/// Poetry `python` or `runtime.txt`): a release every current framework supports.
pub const DEFAULT_PYTHON: &str = "3.12";

/// The base image when the project names none: the official slim image of its Python.
pub fn default_base(python_xy: &str) -> String {
    format!("python:{python_xy}-slim")
}

/// `USER` as the image config writes it: numeric, so no passwd lookup is needed.
pub fn user_spec() -> String {
    format!("{APP_UID}:{APP_UID}")
}
