//! The reader against locks real Poetry releases wrote (1.1, 1.8, 2.2, 2.5), kept
//! under `tests/fixtures/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use uv_pep508::MarkerEnvironment;

use super::*;
use crate::oci::platform::ImagePlatform;
use crate::python::target::Target;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn lock(path: &str) -> PoetryLock {
    PoetryLock::read(&fixture(path)).unwrap()
}

/// The lock in `path` read against its pyproject with `edit` applied.
fn lock_with_pyproject(path: &str, edit: impl Fn(String) -> String) -> PoetryLock {
    let dir = fixture(path);
    let pyproject = edit(std::fs::read_to_string(dir.join("pyproject.toml")).unwrap());
    let project = PoetryProject::from_table(toml::from_str(&pyproject).unwrap()).unwrap();
    PoetryLock::parse(
        &std::fs::read_to_string(dir.join("poetry.lock")).unwrap(),
        project,
    )
    .unwrap()
}

fn linux(python: &str) -> MarkerEnvironment {
    Target::bookworm(ImagePlatform::Amd64, python)
        .unwrap()
        .marker_environment()
}

fn windows(python: &str) -> MarkerEnvironment {
    linux(python)
        .with_sys_platform("win32")
        .with_platform_system("Windows")
        .with_os_name("nt")
}

fn select(extras: &[&str], groups: &[&str]) -> Selection {
    Selection {
        extras: extras.iter().map(|s| s.to_string()).collect(),
        all_extras: false,
        groups: groups.iter().map(|s| s.to_string()).collect(),
    }
}

fn installed(lock: &PoetryLock, env: &MarkerEnvironment, selection: &Selection) -> Vec<String> {
    lock.runtime_packages(env, selection)
        .unwrap()
        .iter()
        .map(|p| format!("{}=={}", normalize(&p.name), p.version_str()))
        .collect()
}

fn names(lock: &PoetryLock, env: &MarkerEnvironment, selection: &Selection) -> Vec<String> {
    installed(lock, env, selection)
        .into_iter()
        .map(|p| p.split("==").next().unwrap().to_owned())
        .collect()
}

const FLASK_RUNTIME: [&str; 9] = [
    "blinker",
    "click",
    "flask",
    "gunicorn",
    "itsdangerous",
    "jinja2",
    "markupsafe",
    "packaging",
    "werkzeug",
];

#[test]
fn every_real_lock_is_fresh_under_the_rules_of_the_poetry_that_wrote_it() {
    for path in [
        "build/poetry1-flask",
        "build/poetry2-fastapi",
        "lock/poetry-1.1-legacy",
        "lock/poetry-2.2-groups",
        "lock/poetry-2.5-multi",
    ] {
        lock(path)
            .ensure_fresh()
            .unwrap_or_else(|err| panic!("{path}: {err}"));
    }
}

#[test]
fn an_edited_pyproject_makes_the_lock_stale_with_that_poetry_s_command() {
    let poetry1 = lock_with_pyproject("build/poetry1-flask", |p| {
        p.replace("gunicorn = \"^23.0\"", "gunicorn = \"^22.0\"")
    });
    let err = poetry1.ensure_fresh().unwrap_err().to_string();
    assert!(
        err.starts_with(
            "poetry.lock is out of date with pyproject.toml: run `poetry lock --no-update` ("
        ),
        "{err}"
    );
    let poetry2 = lock_with_pyproject("build/poetry2-fastapi", |p| {
        p.replace("dev = [\"pytest>=8\"]", "dev = [\"pytest>=8\", \"ruff\"]")
    });
    let err = poetry2.ensure_fresh().unwrap_err().to_string();
    assert!(
        err.starts_with("poetry.lock is out of date with pyproject.toml: run `poetry lock` ("),
        "{err}"
    );
    // Only what Poetry hashes counts: a description or a comment does not.
    lock_with_pyproject("build/poetry2-fastapi", |p| {
        p.replace("for pyship's lockfile tests", "edited") + "\n# a comment\n"
    })
    .ensure_fresh()
    .unwrap();
}

#[test]
fn dependency_groups_count_only_for_locks_from_poetry_2_3_on() {
    let dir = fixture("lock/poetry-2.2-groups");
    let text = std::fs::read_to_string(dir.join("poetry.lock")).unwrap();
    let project = PoetryProject::read(&dir).unwrap();
    let newer = text.replace("Poetry 2.2.1", "Poetry 2.5.1");
    let err = PoetryLock::parse(&newer, project)
        .unwrap()
        .ensure_fresh()
        .unwrap_err();
    assert!(err.to_string().contains("out of date"), "{err}");
}

#[test]
fn poetry_1_8_lock_installs_main_only_unless_asked() {
    let lock = lock("build/poetry1-flask");
    let env = linux("3.11.9");
    assert_eq!(names(&lock, &env, &Selection::default()), FLASK_RUNTIME);
    let with_extra = names(&lock, &env, &select(&["dotenv"], &[]));
    assert!(
        with_extra.contains(&"python-dotenv".to_owned()),
        "{with_extra:?}"
    );
    let with_dev = names(&lock, &env, &select(&[], &["dev"]));
    for name in ["pytest", "pluggy", "iniconfig", "pygments"] {
        assert!(with_dev.contains(&name.to_owned()), "{name}: {with_dev:?}");
    }
    assert!(!with_dev.contains(&"colorama".to_owned()), "{with_dev:?}");
    let on_windows = names(&lock, &windows("3.11.9"), &select(&[], &["dev"]));
    assert!(
        on_windows.contains(&"colorama".to_owned()),
        "{on_windows:?}"
    );
    let dev_only = lock.dev_only_packages(&env).unwrap();
    assert_eq!(
        dev_only.into_iter().collect::<Vec<_>>(),
        ["iniconfig", "pluggy", "pygments", "pytest"]
    );
}

#[test]
fn files_are_looked_up_on_the_index_the_lock_names() {
    let lock = lock("build/poetry1-flask");
    let packages = lock
        .runtime_packages(&linux("3.11.9"), &Selection::default())
        .unwrap();
    let flask = packages.iter().find(|p| p.name == "flask").unwrap();
    assert!(flask.wheels.is_empty() && flask.sdist.is_none());
    let lookup = flask.lookup.as_ref().unwrap();
    assert_eq!(lookup.indexes[0].url, "https://pypi.org/simple");
    assert!(lookup.indexes[0].declared.contains("\"pypi-simple\""));
    assert_eq!(
        lookup.filenames,
        ["flask-3.1.3-py3-none-any.whl", "flask-3.1.3.tar.gz"]
    );
    assert_eq!(
        lookup.hashes[0],
        "f4bcbefc124291925f1a26446da31a5178f9483862233b23c0c96a20701f670c"
    );
}

#[test]
fn packages_without_a_source_come_from_pypi_and_url_sources_keep_their_url() {
    let project = PoetryProject::from_table(
        toml::from_str("[tool.poetry.dependencies]\na = \"*\"\nb = { url = \"https://example.invalid/b-1.0-py3-none-any.whl\" }\n").unwrap(),
    )
    .unwrap();
    let lock = PoetryLock::parse(
        r#"
[[package]]
name = "a"
version = "1.0"
files = [{file = "a-1.0-py3-none-any.whl", hash = "sha256:AA"}, {file = "a-1.0.zip", hash = "md5:bb"}]

[[package]]
name = "b"
version = "1.0"
files = [{file = "b-1.0-py3-none-any.whl", hash = "sha256:cc"}]

[package.source]
type = "url"
url = "https://example.invalid/b-1.0-py3-none-any.whl"

[metadata]
lock-version = "2.0"
"#,
        project,
    )
    .unwrap();
    let packages = lock
        .runtime_packages(&linux("3.11.9"), &Selection::default())
        .unwrap();
    let lookup = packages[0].lookup.as_ref().unwrap();
    assert_eq!(lookup.indexes[0].url, "https://pypi.org/simple");
    assert_eq!(lookup.hashes, ["aa"]);
    assert!(packages[1].lookup.is_none());
    assert_eq!(
        packages[1].wheels[0].url.as_deref(),
        Some("https://example.invalid/b-1.0-py3-none-any.whl")
    );
}

#[test]
fn poetry_1_1_lock_reads_shared_files_and_dev_dependencies() {
    let lock = lock("lock/poetry-1.1-legacy");
    let env = linux("3.11.9");
    assert_eq!(
        names(&lock, &env, &Selection::default()),
        ["click", "itsdangerous"]
    );
    assert_eq!(
        names(&lock, &env, &select(&[], &["dev"])),
        ["click", "iniconfig", "itsdangerous"]
    );
    let click = &lock.runtime_packages(&env, &Selection::default()).unwrap()[0];
    let lookup = click.lookup.as_ref().unwrap();
    assert_eq!(
        lookup.filenames,
        ["click-8.5.1-py3-none-any.whl", "click-8.5.1.tar.gz"]
    );
    // `sys_platform != 'emscripten'` in pyproject leaves click out there.
    let emscripten = linux("3.11.9").with_sys_platform("emscripten");
    assert_eq!(
        names(&lock, &emscripten, &Selection::default()),
        ["itsdangerous"]
    );
}

#[test]
fn poetry_2_lock_with_pep621_extras_and_dependency_groups() {
    let lock = lock("build/poetry2-fastapi");
    let env = linux("3.11.9");
    let plain = names(&lock, &env, &Selection::default());
    for name in ["fastapi", "uvicorn", "pydantic-core", "starlette", "h11"] {
        assert!(plain.contains(&name.to_owned()), "{name}: {plain:?}");
    }
    for name in ["pyyaml", "pytest", "colorama"] {
        assert!(!plain.contains(&name.to_owned()), "{name}: {plain:?}");
    }
    assert!(names(&lock, &env, &select(&["YAML"], &[])).contains(&"pyyaml".to_owned()));
    assert!(names(&lock, &env, &select(&[], &["dev"])).contains(&"pytest".to_owned()));
}

#[test]
fn several_versions_of_one_name_are_settled_by_python_and_markers() {
    let lock = lock("lock/poetry-2.5-multi");
    let on = |python: &str| installed(&lock, &linux(python), &Selection::default());
    let py311 = on("3.11.9");
    assert!(py311.contains(&"click==8.1.7".to_owned()), "{py311:?}");
    assert!(
        !py311.iter().any(|p| p.starts_with("exceptiongroup")),
        "{py311:?}"
    );
    // httpx is required with its http2 extra: h2 and what it needs come along.
    for name in [
        "h2==4.4.1",
        "hpack==4.2.0",
        "hyperframe==6.1.0",
        "typing-extensions==4.16.0",
    ] {
        assert!(py311.contains(&name.to_owned()), "{name}: {py311:?}");
    }
    let py312 = on("3.12.3");
    assert!(py312.contains(&"click==8.1.8".to_owned()), "{py312:?}");
    let py310 = on("3.10.14");
    assert!(
        py310.contains(&"exceptiongroup==1.3.1".to_owned()),
        "{py310:?}"
    );
    assert!(!py311.iter().any(|p| p.starts_with("colorama")));
    let win = installed(&lock, &windows("3.11.9"), &Selection::default());
    assert!(win.contains(&"colorama==0.4.6".to_owned()), "{win:?}");
    let signing = names(&lock, &linux("3.11.9"), &select(&["signing"], &[]));
    assert!(signing.contains(&"itsdangerous".to_owned()), "{signing:?}");
    let lint = names(&lock, &linux("3.11.9"), &select(&[], &["lint"]));
    assert!(lint.contains(&"iniconfig".to_owned()), "{lint:?}");
}

/// What Poetry 2 itself installs from a 2.1 lock: each package in a selected group
/// whose recorded marker holds. The walk must agree on every real lock.
#[test]
fn the_walk_agrees_with_the_markers_poetry_2_recorded() {
    let cases: [(&str, &[&str], &[&str]); 5] = [
        ("build/poetry2-fastapi", &[], &[]),
        ("build/poetry2-fastapi", &["yaml"], &["dev"]),
        ("lock/poetry-2.5-multi", &[], &[]),
        ("lock/poetry-2.5-multi", &["signing"], &["lint"]),
        ("lock/poetry-2.2-groups", &[], &["dev"]),
    ];
    let envs = [
        linux("3.10.14"),
        linux("3.11.9"),
        linux("3.12.3"),
        linux("3.14.0"),
        windows("3.11.9"),
    ];
    for (path, extras, groups) in cases {
        let lock = lock(path);
        let selection = select(extras, groups);
        let (extras, groups) = lock.selected(&selection).unwrap();
        for env in &envs {
            let walk = Walk {
                lock: &lock.file,
                env,
                root_extras: &extras,
                groups: &groups,
            };
            let by_markers: BTreeSet<String> = lock
                .file
                .packages
                .iter()
                .filter(|p| walk.marked_for_here(p))
                .map(|p| format!("{}=={}", normalize(&p.name), p.version))
                .collect();
            let walked: BTreeSet<String> = installed(&lock, env, &selection).into_iter().collect();
            assert_eq!(walked, by_markers, "{path} {extras:?} {groups:?} {env:?}");
        }
    }
}

#[test]
fn unknown_extras_and_groups_name_what_the_project_has() {
    let lock = lock("build/poetry1-flask");
    let env = linux("3.11.9");
    let err = lock
        .runtime_packages(&env, &select(&["docs"], &[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"docs\" is not in [tool.poetry.extras] (it has: dotenv)"),
        "{err}"
    );
    let err = lock
        .runtime_packages(&env, &select(&[], &["lint"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"lint\" is not in [tool.poetry.group]") && err.contains("it has: dev"),
        "{err}"
    );
    let all = Selection {
        all_extras: true,
        ..Selection::default()
    };
    assert!(names(&lock, &env, &all).contains(&"python-dotenv".to_owned()));
}

#[test]
fn a_git_source_is_refused_naming_the_package_and_the_fix() {
    let project = PoetryProject::from_table(
        toml::from_str("[tool.poetry.dependencies]\npython = \"^3.11\"\nmylib = { git = \"https://example.invalid/mylib.git\" }\n").unwrap(),
    )
    .unwrap();
    let lock = PoetryLock::parse(
        r#"
[[package]]
name = "mylib"
version = "1.0.0"
optional = false
python-versions = "*"
files = []

[package.source]
type = "git"
url = "https://example.invalid/mylib.git"
reference = "HEAD"
resolved_reference = "0123abc"

[metadata]
lock-version = "2.0"
content-hash = "0"
"#,
        project,
    )
    .unwrap();
    let err = lock
        .runtime_packages(&linux("3.11.9"), &Selection::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("installs mylib from git (https://example.invalid/mylib.git)")
            && err.contains("publish it to an index"),
        "{err}"
    );
}

#[test]
fn a_dependency_missing_from_the_lock_names_who_wants_it() {
    let project = PoetryProject::from_table(
        toml::from_str("[tool.poetry.dependencies]\nflask = \"*\"\n").unwrap(),
    )
    .unwrap();
    let lock = PoetryLock::parse(
        "[[package]]\nname = \"flask\"\nversion = \"3.0.0\"\n[package.dependencies]\nwerkzeug = \">=3\"\n[metadata]\nlock-version = \"2.0\"\n",
        project,
    )
    .unwrap();
    let err = lock
        .runtime_packages(&linux("3.11.9"), &Selection::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no entry for \"werkzeug\", which flask requires"),
        "{err}"
    );
}

#[test]
fn the_project_is_built_unless_it_is_no_package() {
    let env = linux("3.11.9");
    let local = |path: &str| {
        let project = crate::python::project::Project::read(&fixture(path)).unwrap();
        lock(path)
            .local_packages(&project, &env, &Selection::default())
            .unwrap()
    };
    let flask = local("build/poetry1-flask");
    assert_eq!(flask.len(), 1);
    assert_eq!(
        (flask[0].name.as_str(), flask[0].directory.as_deref()),
        ("poetry1-flask", Some("."))
    );
    assert!(local("build/poetry2-fastapi").is_empty());
}

#[test]
fn directory_dependencies_are_built_and_file_dependencies_installed_from_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let pyproject = "[tool.poetry]\nname = \"svc\"\npackage-mode = false\n[tool.poetry.dependencies]\npython = \"^3.11\"\nmylib = { path = \"libs/mylib\", develop = true }\nvendored = { path = \"wheels/vendored-1.0-py3-none-any.whl\" }\n";
    std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
    let project = crate::python::project::Project::read(dir.path()).unwrap();
    let lock = PoetryLock::parse(
        r#"
[[package]]
name = "mylib"
version = "0.1.0"
files = []
develop = true

[package.dependencies]
vendored = "*"

[package.source]
type = "directory"
url = "libs/mylib"

[[package]]
name = "vendored"
version = "1.0"
files = [{file = "vendored-1.0-py3-none-any.whl", hash = "sha256:aa"}]

[package.source]
type = "file"
url = "wheels/vendored-1.0-py3-none-any.whl"

[metadata]
lock-version = "2.0"
"#,
        PoetryProject::from_table(toml::from_str(pyproject).unwrap()).unwrap(),
    )
    .unwrap();
    let env = linux("3.11.9");
    let runtime = lock.runtime_packages(&env, &Selection::default()).unwrap();
    assert_eq!(runtime.len(), 1);
    assert_eq!(runtime[0].name, "vendored");
    assert_eq!(
        runtime[0].wheels[0].path.as_deref(),
        Some("wheels/vendored-1.0-py3-none-any.whl")
    );
    let local = lock
        .local_packages(&project, &env, &Selection::default())
        .unwrap();
    assert_eq!(local.len(), 1);
    assert_eq!(
        (local[0].name.as_str(), local[0].directory.as_deref()),
        ("mylib", Some("libs/mylib"))
    );
}
