//! The one piece of Python pyship puts in front of a server, and only when needed: it
//! puts the run-time `$PORT` into the arguments (Cloud Run, Heroku and `docker run -e
//! PORT=…` set it), then starts the server as PID 1, which gets SIGTERM itself. A
//! console script of the venv's own interpreter runs in this process (starting a second
//! interpreter would cost every container start a few per cent); any other program
//! replaces it (`execv`). Apps started as `-m module` or `file.py`, which install no
//! SIGTERM handler of their own, run in-process with SIGTERM meaning a clean exit. No
//! shell is involved either way.

/// The placeholder a command uses for the port the service listens on at run time.
pub const PORT: &str = "$PORT";

/// The launcher's source; `sys.argv[1:]` is the command to start.
const SOURCE: &str = "\
import os, runpy, signal, sys
port = os.environ.get('PORT') or '{default}'
argv = [arg.replace('$PORT', port) for arg in sys.argv[1:]]
if argv[0] in ('-m', '-p'):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = argv[1:]
    if argv[0] == '-m':
        runpy.run_module(argv[1], run_name='__main__', alter_sys=True)
    else:
        runpy.run_path(argv[1], run_name='__main__')
    sys.exit()
try:
    with open(argv[0], 'rb') as script:
        ours = script.readline().rstrip() == b'#!' + os.fsencode(sys.executable)
except OSError:
    ours = False
if not ours:
    os.execv(argv[0], argv)
sys.argv = argv
runpy.run_path(argv[0], run_name='__main__')
";

/// How a command is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The program (a console script runs in the launcher's process) is PID 1 and
    /// handles SIGTERM.
    Exec,
    /// `python -m MODULE …`: run in-process, SIGTERM exits 0.
    Module,
    /// `python FILE.py …`: run in-process, SIGTERM exits 0.
    Script,
}

/// The exec-form command that starts `command` with `$PORT` filled in at run time
/// (`default_port` when the variable is unset). `command[0]` is the program for
/// [`Start::Exec`], the module or file otherwise.
pub fn wrap(python: &str, command: &[String], start: Start, default_port: u16) -> Vec<String> {
    let needs_port = command.iter().any(|arg| arg.contains(PORT));
    if start == Start::Exec && !needs_port {
        return command.to_vec();
    }
    let mut argv = vec![
        python.to_owned(),
        "-c".to_owned(),
        SOURCE.replace("{default}", &default_port.to_string()),
    ];
    match start {
        Start::Exec => {}
        Start::Module => argv.push("-m".to_owned()),
        Start::Script => argv.push("-p".to_owned()),
    }
    argv.extend(command.iter().cloned());
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_server_without_port_needs_no_launcher() {
        let command = strings(&["/app/.venv/bin/serve"]);
        assert_eq!(
            wrap("/app/.venv/bin/python", &command, Start::Exec, 8000),
            command
        );
    }

    #[test]
    fn port_and_in_process_starts_go_through_the_launcher() {
        let uvicorn = wrap(
            "/py",
            &strings(&["/bin/uvicorn", "a:app", "--port", PORT]),
            Start::Exec,
            8000,
        );
        assert_eq!(uvicorn[..2], ["/py", "-c"]);
        assert!(uvicorn[2].contains("or '8000'"));
        assert_eq!(uvicorn[3..], ["/bin/uvicorn", "a:app", "--port", "$PORT"]);
        let module = wrap("/py", &strings(&["svc"]), Start::Module, 9000);
        assert_eq!(module[3..], ["-m", "svc"]);
        let script = wrap("/py", &strings(&["main.py"]), Start::Script, 9000);
        assert_eq!(script[3..], ["-p", "main.py"]);
    }

    /// Runs the launcher with this machine's python3 over `program`; its output.
    fn launch(program: &std::path::Path) -> String {
        let command = [
            program.to_string_lossy().into_owned(),
            "--port".into(),
            PORT.into(),
        ];
        let argv = wrap("python3", &command, Start::Exec, 8000);
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("PORT", "8080")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn a_console_script_of_the_same_python_runs_in_process_and_others_are_executed() {
        let executable = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap();
        let executable = String::from_utf8(executable.stdout).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, shebang: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!{shebang}\n{body}")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            path
        };
        let ours = script(
            "serve",
            executable.trim(),
            "import sys\nif __name__ == '__main__':\n    print('-c' in sys.orig_argv, sys.argv[1:])\n",
        );
        assert_eq!(launch(&ours), "True ['--port', '8080']\n");
        let other = script("other", "/bin/sh", "echo exec \"$@\"\n");
        assert_eq!(launch(&other), "exec --port 8080\n");
    }
}
