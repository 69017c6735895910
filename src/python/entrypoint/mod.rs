//! How the service starts: the exec-form command, detected from the code when the user
//! gives none. The app itself is PID 1: no shell, no `--reload`, no `uv run`; the port
//! comes from `$PORT` at run time, so `docker run -e PORT=8080` is answered on 8080.

mod app;
mod launcher;
mod procfile;
mod server;

use anyhow::{Result, bail};

use crate::python::project::Project;
use crate::python::source::SourceFiles;
use launcher::Start;
use server::Interface;

/// The detected start command and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrypoint {
    pub command: Vec<String>,
    pub reason: String,
}

/// Where the service's code and environment live in the image.
struct Paths<'a> {
    venv_bin: &'a str,
    default_port: u16,
}

impl Paths<'_> {
    fn python(&self) -> String {
        format!("{}/python", self.venv_bin)
    }

    /// The exec-form command for `command`, through the launcher when it needs one.
    fn entrypoint(&self, command: &[String], start: Start, reason: String) -> Entrypoint {
        Entrypoint {
            command: launcher::wrap(&self.python(), command, start, self.default_port),
            reason,
        }
    }
}

/// Detects the command, in order: `[tool.pyship] command`, a `Procfile` `web:` line, an
/// ASGI or WSGI app under the production server the lock has, a module that serves
/// itself (aiohttp, Tornado) or a package's `__main__.py`, a single console script,
/// `main.py` or `app.py`.
pub fn detect(
    project: &Project,
    files: &SourceFiles,
    installed: &[String],
    venv_bin: &str,
    port: u16,
) -> Result<Entrypoint> {
    let paths = Paths {
        venv_bin,
        default_port: port,
    };
    if let Some(command) = &project.config.command {
        if command.is_empty() {
            bail!(
                "[tool.pyship] command is empty: give the program and its arguments, like [\"uvicorn\", \"app.main:app\", \"--port\", \"$PORT\"]"
            );
        }
        return Ok(paths.entrypoint(command, Start::Exec, "[tool.pyship] command".into()));
    }
    if let Some(words) = procfile::web_command(&project.root)? {
        return Ok(from_procfile(&paths, words));
    }
    let prefer_asgi = Interface::Asgi.installed_server(installed).is_some()
        && Interface::Wsgi.installed_server(installed).is_none();
    if let Some(app) = app::find(files, prefer_asgi) {
        return served(&paths, &app, installed);
    }
    if let Some(path) = app::self_serving(files) {
        return Ok(run_python_file(
            &paths,
            files,
            &path,
            "a module that runs its own server",
        ));
    }
    if let Some(package) = app::main_package(files) {
        return Ok(paths.entrypoint(
            std::slice::from_ref(&package),
            Start::Module,
            format!("the package {package}'s __main__.py"),
        ));
    }
    if project.scripts.len() == 1 {
        let name = project.scripts.keys().next().expect("one script");
        return Ok(paths.entrypoint(
            &[format!("{venv_bin}/{name}")],
            Start::Exec,
            format!("the console script {name}"),
        ));
    }
    if let Some(file) = ["main.py", "app.py"]
        .into_iter()
        .find(|f| files.contains(f) && (*f == "main.py" || app::runs_as_script(files, f)))
    {
        return Ok(paths.entrypoint(&[file.to_owned()], Start::Script, file.to_owned()));
    }
    bail!(
        "cannot tell how to start {}: no ASGI/WSGI app (FastAPI, Starlette, Flask, Django, …), Procfile web line, package __main__.py, single [project.scripts] entry or main.py found; set [tool.pyship] command = [\"…\"] in pyproject.toml",
        project.name
    )
}

/// The app under the first production server the lock has for its interface.
fn served(paths: &Paths<'_>, app: &app::App, installed: &[String]) -> Result<Entrypoint> {
    let Some(server) = app.interface.installed_server(installed) else {
        let suggested = app.interface.suggested().package();
        bail!(
            "{} is a {} {} app in {} but {suggested} is not a dependency (nor another {} server pyship knows: {}): add it with `uv add {suggested}`, or set [tool.pyship] command",
            app.target,
            app.framework,
            app.interface.name(),
            app.file,
            app.interface.name(),
            app.interface.server_names()
        );
    };
    let (command, start) = server.command(paths.venv_bin, &app.target, app.interface);
    Ok(paths.entrypoint(
        &command,
        start,
        format!(
            "{} app {} in {}, served by {}",
            app.framework,
            app.target,
            app.file,
            server.package()
        ),
    ))
}

/// `python -m module` for a file inside a package or the import root, else the file.
fn run_python_file(paths: &Paths<'_>, files: &SourceFiles, path: &str, why: &str) -> Entrypoint {
    let module = files.module_of(path);
    match module {
        Some(module) if module.contains('.') || path.ends_with("__main__.py") => {
            let module = module.trim_end_matches(".__main__").to_owned();
            paths.entrypoint(
                std::slice::from_ref(&module),
                Start::Module,
                format!("{why}: {module}"),
            )
        }
        _ => paths.entrypoint(&[path.to_owned()], Start::Script, format!("{why}: {path}")),
    }
}

/// The Procfile's words with bare program names resolved into the venv; `python -m X`
/// and `python file.py` run in-process so SIGTERM ends them cleanly.
fn from_procfile(paths: &Paths<'_>, words: Vec<String>) -> Entrypoint {
    let reason = "the Procfile's web line".to_owned();
    let program = words[0].as_str();
    if matches!(program, "python" | "python3") {
        match words.get(1).map(String::as_str) {
            Some("-m") if words.len() > 2 => {
                return paths.entrypoint(&words[2..], Start::Module, reason);
            }
            Some(file) if file.ends_with(".py") => {
                return paths.entrypoint(&words[1..], Start::Script, reason);
            }
            _ => {}
        }
    }
    if program == "waitress-serve" {
        let mut module = vec!["waitress".to_owned()];
        module.extend(words[1..].iter().cloned());
        return paths.entrypoint(&module, Start::Module, reason);
    }
    let mut command = words.clone();
    if !program.contains('/') {
        command[0] = if matches!(program, "python" | "python3") {
            paths.python()
        } else {
            format!("{}/{program}", paths.venv_bin)
        };
    }
    paths.entrypoint(&command, Start::Exec, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(
        files: &[(&str, &str)],
        pyproject_extra: &str,
    ) -> (tempfile::TempDir, Project, SourceFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            format!("[project]\nname = \"svc\"\n{pyproject_extra}"),
        )
        .unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let project = Project::read(dir.path()).unwrap();
        let files = SourceFiles::collect(dir.path()).unwrap();
        (dir, project, files)
    }

    fn detect_in(files: &[(&str, &str)], extra: &str, installed: &[&str]) -> Result<Entrypoint> {
        let (_dir, project, files) = project(files, extra);
        let installed: Vec<String> = installed.iter().map(|s| s.to_string()).collect();
        detect(&project, &files, &installed, "/app/.venv/bin", 8000)
    }

    #[test]
    fn fastapi_in_src_layout_runs_under_uvicorn() {
        let ep = detect_in(
            &[
                ("src/svc/__init__.py", ""),
                (
                    "src/svc/api.py",
                    "import fastapi\napi: fastapi.FastAPI = fastapi.FastAPI(title='x')\n",
                ),
                ("tests/test_api.py", "app = FastAPI()\n"),
            ],
            "",
            &["uvicorn", "fastapi"],
        )
        .unwrap();
        assert_eq!(ep.command[..2], ["/app/.venv/bin/python", "-c"]);
        assert_eq!(ep.command[3..5], ["/app/.venv/bin/uvicorn", "svc.api:api"]);
        assert!(ep.command.contains(&"$PORT".to_owned()));
        assert!(
            ep.command
                .contains(&"--timeout-graceful-shutdown".to_owned())
        );
        assert!(!ep.command.iter().any(|a| a == "--reload"));
    }

    #[test]
    fn flask_and_django_run_under_gunicorn() {
        let flask = detect_in(
            &[("app.py", "from flask import Flask\napp = Flask(__name__)\n")],
            "",
            &["gunicorn", "flask"],
        )
        .unwrap();
        assert_eq!(flask.command.last().unwrap(), "app:app");
        assert!(flask.command.contains(&"0.0.0.0:$PORT".to_owned()));
        let django = detect_in(
            &[("site/__init__.py", ""), ("site/wsgi.py", "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n")],
            "",
            &["gunicorn", "django"],
        )
        .unwrap();
        assert_eq!(django.command.last().unwrap(), "site.wsgi:application");
        let missing = detect_in(&[("app.py", "app = Flask(__name__)\n")], "", &["flask"])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("uv add gunicorn"), "{missing}");
    }

    #[test]
    fn configured_command_script_and_main_py_in_that_order() {
        let configured = detect_in(
            &[("main.py", "")],
            "[tool.pyship]\ncommand = [\"/app/.venv/bin/python\", \"-m\", \"svc\"]\n",
            &[],
        )
        .unwrap();
        assert_eq!(configured.command, ["/app/.venv/bin/python", "-m", "svc"]);
        let script = detect_in(
            &[("main.py", "")],
            "[project.scripts]\nserve = \"svc:main\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(script.command, ["/app/.venv/bin/serve"]);
        let main = detect_in(&[("main.py", "print(1)\n")], "", &[]).unwrap();
        assert_eq!(main.command[3..], ["-p", "main.py"]);
        let none = detect_in(&[("lib.py", "x = 1\n")], "", &[])
            .unwrap_err()
            .to_string();
        assert!(none.contains("[tool.pyship] command"), "{none}");
    }

    fn tail(ep: &Entrypoint) -> Vec<&str> {
        ep.command.iter().skip(3).map(String::as_str).collect()
    }

    #[test]
    fn the_locked_server_serves_the_app() {
        let asgi = [(
            "main.py",
            "from quart import Quart\napp = Quart(__name__)\n",
        )];
        let hypercorn = detect_in(&asgi, "", &["quart", "hypercorn"]).unwrap();
        assert_eq!(
            tail(&hypercorn)[..3],
            ["/app/.venv/bin/hypercorn", "--bind", "0.0.0.0:$PORT"]
        );
        let wsgi = [("app.py", "import flask\napp = flask.Flask(__name__)\n")];
        let waitress = detect_in(&wsgi, "", &["flask", "waitress"]).unwrap();
        assert_eq!(
            tail(&waitress),
            ["-m", "waitress", "--listen", "0.0.0.0:$PORT", "app:app"]
        );
        let missing = detect_in(&asgi, "", &["quart"]).unwrap_err().to_string();
        assert!(
            missing.contains("main:app is a Quart ASGI app"),
            "{missing}"
        );
        assert!(missing.contains("`uv add uvicorn`"), "{missing}");
    }

    #[test]
    fn django_is_found_through_manage_py_and_its_settings() {
        let files = [
            (
                "manage.py",
                "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'conf.settings')\n",
            ),
            ("conf/__init__.py", ""),
            (
                "conf/settings.py",
                "WSGI_APPLICATION = 'conf.wsgi.application'\nASGI_APPLICATION = 'conf.asgi.application'\n",
            ),
            ("conf/wsgi.py", "application = None\n"),
            ("conf/asgi.py", "application = None\n"),
        ];
        let wsgi = detect_in(&files, "", &["django", "gunicorn"]).unwrap();
        assert_eq!(wsgi.command.last().unwrap(), "conf.wsgi:application");
        let asgi = detect_in(&files, "", &["django", "uvicorn"]).unwrap();
        assert_eq!(tail(&asgi)[1], "conf.asgi:application");
    }

    #[test]
    fn procfile_comes_before_detection_and_self_serving_modules_run_in_process() {
        let flask = ("app.py", "from flask import Flask\napp = Flask(__name__)\n");
        let procfile = (
            "Procfile",
            "release: flask db upgrade\nweb: gunicorn app:app --bind 0.0.0.0:${PORT:-5000}\n",
        );
        let ep = detect_in(&[flask, procfile], "", &["flask", "gunicorn"]).unwrap();
        assert_eq!(
            tail(&ep),
            [
                "/app/.venv/bin/gunicorn",
                "app:app",
                "--bind",
                "0.0.0.0:$PORT"
            ]
        );
        assert_eq!(ep.reason, "the Procfile's web line");
        let module = detect_in(
            &[
                ("svc/__init__.py", ""),
                (
                    "svc/__main__.py",
                    "from aiohttp import web\nweb.run_app(make())\n",
                ),
            ],
            "",
            &["aiohttp"],
        )
        .unwrap();
        assert_eq!(tail(&module), ["-m", "svc"]);
        let package = detect_in(
            &[("tool/__init__.py", ""), ("tool/__main__.py", "print(1)\n")],
            "",
            &[],
        )
        .unwrap();
        assert_eq!(tail(&package), ["-m", "tool"]);
    }
}
