//! Finding the app in the service's code: a framework object assigned at module level,
//! Django's application from its settings, or a module that runs its own server.

use std::path::Path;

use super::server::Interface;
use crate::python::source::SourceFiles;

/// An app object a server can load, as `module:attribute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub target: String,
    pub file: String,
    pub interface: Interface,
    /// The framework, for messages.
    pub framework: &'static str,
}

/// Classes whose instances are ASGI apps, by framework.
const ASGI: &[(&str, &str)] = &[
    ("FastAPI", "FastAPI"),
    ("Starlette", "Starlette"),
    ("Quart", "Quart"),
    ("Litestar", "Litestar"),
    ("Sanic", "Sanic"),
];

/// Classes whose instances are WSGI apps, by framework.
const WSGI: &[(&str, &str)] = &[
    ("Flask", "Flask"),
    ("Bottle", "Bottle"),
    ("falcon.App", "Falcon"),
];

/// The ASGI or WSGI app of the service, ASGI first: Django's when it is a Django
/// project and `prefer_asgi` says an ASGI server is what the lock has.
pub fn find(files: &SourceFiles, prefer_asgi: bool) -> Option<App> {
    if let Some(django) = django(files, prefer_asgi) {
        return Some(django);
    }
    assigned(files, ASGI, Interface::Asgi).or_else(|| assigned(files, WSGI, Interface::Wsgi))
}

/// The first module that assigns `NAME = Class(` at top level, preferring shallow
/// paths and the usual file names.
fn assigned(
    files: &SourceFiles,
    classes: &[(&str, &'static str)],
    interface: Interface,
) -> Option<App> {
    for path in ranked(files) {
        let Ok(text) = std::fs::read_to_string(files.root().join(path)) else {
            continue;
        };
        for line in text.lines().filter(|l| !l.starts_with([' ', '\t', '#'])) {
            let Some((variable, call)) = assignment(line) else {
                continue;
            };
            let framework = classes
                .iter()
                .find_map(|(class, framework)| calls(call, class).then_some(*framework));
            if let Some(framework) = framework {
                return Some(App {
                    target: format!("{}:{variable}", files.module_of(path)?),
                    file: path.to_owned(),
                    interface,
                    framework,
                });
            }
        }
    }
    None
}

/// `NAME = call…` or `NAME: Type = call…`, with NAME an identifier.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (lhs, rhs) = line.split_once('=')?;
    if rhs.starts_with('=') {
        return None;
    }
    let variable = lhs.split(':').next().unwrap_or(lhs).trim();
    is_identifier(variable).then_some((variable, rhs.trim_start()))
}

/// True when `call` starts by calling `class`, bare or through a module
/// (`FastAPI(…)`, `fastapi.FastAPI(…)`).
fn calls(call: &str, class: &str) -> bool {
    let Some((head, _)) = call.split_once('(') else {
        return false;
    };
    let head = head.trim_end();
    let short = class.rsplit('.').next().unwrap_or(class);
    head == class
        || head == short
        || head.rsplit_once('.').is_some_and(|(qualifier, name)| {
            name == short && qualifier.split('.').all(is_identifier)
        })
}

/// Django: the application its settings name (`WSGI_APPLICATION`/`ASGI_APPLICATION`),
/// the settings found through `manage.py`; else a `wsgi.py`/`asgi.py` that makes one.
fn django(files: &SourceFiles, prefer_asgi: bool) -> Option<App> {
    let interface = if prefer_asgi {
        Interface::Asgi
    } else {
        Interface::Wsgi
    };
    let (setting, module_file, maker) = match interface {
        Interface::Asgi => ("ASGI_APPLICATION", "asgi.py", "get_asgi_application"),
        Interface::Wsgi => ("WSGI_APPLICATION", "wsgi.py", "get_wsgi_application"),
    };
    let from_settings = settings_file(files).and_then(|settings| {
        let text = std::fs::read_to_string(files.root().join(&settings)).ok()?;
        let value = setting_value(&text, setting)?;
        let (module, attribute) = value.rsplit_once('.')?;
        Some(App {
            target: format!("{module}:{attribute}"),
            file: settings,
            interface,
            framework: "Django",
        })
    });
    from_settings.or_else(|| {
        ranked(files)
            .into_iter()
            .filter(|path| path.ends_with(module_file))
            .find_map(|path| {
                let text = std::fs::read_to_string(files.root().join(path)).ok()?;
                if !text.contains(maker) {
                    return None;
                }
                Some(App {
                    target: format!("{}:application", files.module_of(path)?),
                    file: path.to_owned(),
                    interface,
                    framework: "Django",
                })
            })
    })
}

/// The settings module `manage.py` names in `DJANGO_SETTINGS_MODULE`, as a file.
fn settings_file(files: &SourceFiles) -> Option<String> {
    let manage = files
        .python_files()
        .find(|p| p.rsplit('/').next() == Some("manage.py"))?;
    let text = std::fs::read_to_string(files.root().join(manage)).ok()?;
    let at = text.find("DJANGO_SETTINGS_MODULE")?;
    // Past the name's own closing quote (and `]`), the next string is the value.
    let rest = text[at + "DJANGO_SETTINGS_MODULE".len()..].trim_start_matches(['"', '\'', ']']);
    let module = quoted(rest)?;
    let relative = format!("{}.py", module.replace('.', "/"));
    let base = Path::new(manage)
        .parent()
        .and_then(Path::to_str)
        .unwrap_or("");
    [
        relative.clone(),
        format!("{base}/{relative}"),
        format!("src/{relative}"),
    ]
    .into_iter()
    .map(|p| p.trim_start_matches('/').to_owned())
    .find(|p| files.contains(p))
}

/// The string assigned to `NAME` at top level, as in `NAME = "a.b.c"`.
fn setting_value(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .trim_start()
            .strip_prefix('=')
            .map(quoted)
    })?
}

/// The first quoted string in `text`.
fn quoted(text: &str) -> Option<String> {
    let start = text.find(['"', '\''])?;
    let quote = text[start..].chars().next()?;
    let rest = &text[start + 1..];
    Some(rest[..rest.find(quote)?].to_owned())
}

/// A module that starts its own server: aiohttp's `web.run_app(…)` or a Tornado
/// IOLoop, preferring a package's `__main__.py`.
pub fn self_serving(files: &SourceFiles) -> Option<String> {
    ranked(files)
        .into_iter()
        .find(|path| {
            std::fs::read_to_string(files.root().join(path)).is_ok_and(|text| {
                text.contains("run_app(")
                    || (text.contains("tornado")
                        && (text.contains(".start()") || text.contains("asyncio.run(")))
            })
        })
        .map(str::to_owned)
}

/// True when a top-level file does something when run, not only defines things.
pub fn runs_as_script(files: &SourceFiles, path: &str) -> bool {
    std::fs::read_to_string(files.root().join(path)).is_ok_and(|text| {
        text.contains("__main__")
            || text
                .lines()
                .any(|l| l.contains(".run(") && !l.starts_with([' ', '\t']))
    })
}

/// The shallowest package with a `__main__.py`, as a module name.
pub fn main_package(files: &SourceFiles) -> Option<String> {
    ranked(files)
        .into_iter()
        .filter_map(|path| path.strip_suffix("/__main__.py"))
        .find_map(|package| files.module_of(&format!("{package}/__init__.py")))
}

/// Python files, most likely app homes first: shallow, usual names, tests last.
fn ranked(files: &SourceFiles) -> Vec<&str> {
    let mut paths: Vec<(usize, &str)> = files.python_files().map(|p| (rank(p), p)).collect();
    paths.sort();
    paths.into_iter().map(|(_, p)| p).collect()
}

fn rank(path: &str) -> usize {
    let depth = path.matches('/').count();
    let file = Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("");
    let usual = matches!(
        file,
        "main.py" | "app.py" | "asgi.py" | "wsgi.py" | "server.py" | "api.py" | "__main__.py"
    );
    let test = path.contains("test");
    depth * 2 + usize::from(!usual) + 100 * usize::from(test)
}

pub fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit())
}
