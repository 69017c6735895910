//! The one piece of Python pyship puts in front of a server, and only when needed: it
//! puts the run-time `$PORT` into the arguments (Cloud Run, Heroku and `docker run -e
//! PORT=…` set it), then either replaces itself with the server (`execv`: the server is
//! PID 1 and gets SIGTERM itself) or, for apps started as `-m module` or `file.py` that
//! install no SIGTERM handler of their own, runs them in-process with SIGTERM meaning a
//! clean exit. No shell is involved either way.

/// The placeholder a command uses for the port the service listens on at run time.
pub const PORT: &str = "$PORT";

/// The launcher's source; `sys.argv[1:]` is the command to start.
const SOURCE: &str = "\
import os, runpy, signal, sys
port = os.environ.get('PORT') or '{default}'
argv = [arg.replace('$PORT', port) for arg in sys.argv[1:]]
if argv[0] not in ('-m', '-p'):
    os.execv(argv[0], argv)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sys.argv = argv[1:]
if argv[0] == '-m':
    runpy.run_module(argv[1], run_name='__main__', alter_sys=True)
else:
    runpy.run_path(argv[1], run_name='__main__')
";

/// How a command is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The program itself is PID 1 and handles SIGTERM.
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
}
