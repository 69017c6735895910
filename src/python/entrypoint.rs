//! How the service starts: the exec-form command, detected from the code when the user
//! gives none. The app itself is PID 1: no shell, no `--reload`, no `uv run`.

use std::path::Path;

use anyhow::{Result, bail};

use crate::contract::GRACEFUL_SECONDS;
use crate::python::project::Project;
use crate::python::source::SourceFiles;

/// The detected start command and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrypoint {
    pub command: Vec<String>,
    pub reason: String,
}

/// Detects the command, in order: `[tool.pyship] command`, an ASGI app, a WSGI app, a
/// single console script, `main.py`.
pub fn detect(
    project: &Project,
    files: &SourceFiles,
    installed: &[String],
    venv_bin: &str,
    port: u16,
) -> Result<Entrypoint> {
    if let Some(command) = &project.config.command {
        if command.is_empty() {
            bail!(
                "[tool.pyship] command is empty: give the program and its arguments, like [\"uvicorn\", \"app.main:app\"]"
            );
        }
        return Ok(Entrypoint {
            command: command.clone(),
            reason: "[tool.pyship] command".into(),
        });
    }
    let has = |name: &str| installed.iter().any(|n| n == name);
    let port = port.to_string();
    if let Some(app) = find_app(files, &["FastAPI", "Starlette", "Quart", "Litestar"]) {
        if !has("uvicorn") {
            bail!(
                "{} is an ASGI app but uvicorn is not a dependency: `uv add uvicorn`, or set [tool.pyship] command",
                app.target
            );
        }
        let command = [
            &format!("{venv_bin}/uvicorn"),
            &app.target,
            "--host",
            "0.0.0.0",
            "--port",
            &port,
            "--timeout-graceful-shutdown",
            &GRACEFUL_SECONDS.to_string(),
        ];
        return Ok(Entrypoint {
            command: command.map(str::to_owned).to_vec(),
            reason: format!("ASGI app {} in {}", app.target, app.file),
        });
    }
    let wsgi = find_app(files, &["Flask"]).or_else(|| find_django(files));
    if let Some(app) = wsgi {
        if !has("gunicorn") {
            bail!(
                "{} is a WSGI app but gunicorn is not a dependency: `uv add gunicorn`, or set [tool.pyship] command",
                app.target
            );
        }
        let bind = format!("0.0.0.0:{port}");
        let command = [
            &format!("{venv_bin}/gunicorn"),
            "--bind",
            &bind,
            "--graceful-timeout",
            &GRACEFUL_SECONDS.to_string(),
            "--access-logfile",
            "-",
            &app.target,
        ];
        return Ok(Entrypoint {
            command: command.map(str::to_owned).to_vec(),
            reason: format!("WSGI app {} in {}", app.target, app.file),
        });
    }
    if project.scripts.len() == 1 {
        let name = project.scripts.keys().next().expect("one script");
        return Ok(Entrypoint {
            command: vec![format!("{venv_bin}/{name}")],
            reason: format!("the console script {name}"),
        });
    }
    if files.contains("main.py") {
        return Ok(Entrypoint {
            command: vec![format!("{venv_bin}/python"), "main.py".into()],
            reason: "main.py".into(),
        });
    }
    bail!(
        "cannot tell how to start {}: no FastAPI/Starlette/Flask/Django app, single [project.scripts] entry or main.py found; set [tool.pyship] command = [\"…\"] in pyproject.toml",
        project.name
    )
}

struct App {
    target: String,
    file: String,
}

/// The first module that assigns `NAME = Class(` at top level, preferring shallow
/// paths and the usual file names.
fn find_app(files: &SourceFiles, classes: &[&str]) -> Option<App> {
    let mut candidates: Vec<(usize, &str)> = files
        .python_files()
        .map(|path| (rank(path), path))
        .collect();
    candidates.sort();
    for (_, path) in candidates {
        let Ok(text) = std::fs::read_to_string(files.root().join(path)) else {
            continue;
        };
        for line in text.lines() {
            if line.starts_with([' ', '\t', '#']) {
                continue;
            }
            let Some((lhs, rhs)) = line.split_once('=') else {
                continue;
            };
            let variable = lhs.split(':').next().unwrap_or(lhs).trim();
            let call = rhs.trim_start();
            let call = call
                .rsplit_once('.')
                .filter(|(m, _)| !m.contains('('))
                .map_or(call, |(_, c)| c);
            let is_app = classes.iter().any(|class| {
                call.strip_prefix(class)
                    .is_some_and(|r| r.trim_start().starts_with('('))
            });
            if is_app && is_identifier(variable) {
                let module = files.module_of(path)?;
                return Some(App {
                    target: format!("{module}:{variable}"),
                    file: path.to_owned(),
                });
            }
        }
    }
    None
}

/// Django: the settings package's `wsgi.py` with `application = get_wsgi_application()`.
fn find_django(files: &SourceFiles) -> Option<App> {
    files
        .python_files()
        .filter(|path| path.ends_with("wsgi.py"))
        .find_map(|path| {
            let text = std::fs::read_to_string(files.root().join(path)).ok()?;
            if !text.contains("get_wsgi_application") {
                return None;
            }
            Some(App {
                target: format!("{}:application", files.module_of(path)?),
                file: path.to_owned(),
            })
        })
}

fn rank(path: &str) -> usize {
    let depth = path.matches('/').count();
    let file = Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("");
    let usual = matches!(
        file,
        "main.py" | "app.py" | "asgi.py" | "server.py" | "api.py"
    );
    let test = path.contains("test");
    depth * 2 + usize::from(!usual) + 100 * usize::from(test)
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit())
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
        assert_eq!(ep.command[..2], ["/app/.venv/bin/uvicorn", "svc.api:api"]);
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
        assert!(flask.command.contains(&"0.0.0.0:8000".to_owned()));
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
        assert_eq!(main.command, ["/app/.venv/bin/python", "main.py"]);
        let none = detect_in(&[("lib.py", "x = 1\n")], "", &[])
            .unwrap_err()
            .to_string();
        assert!(none.contains("[tool.pyship] command"), "{none}");
    }
}
