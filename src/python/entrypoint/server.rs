//! The production servers pyship starts an app with, and how each is told to listen
//! on `$PORT` and finish requests on SIGTERM.

use super::launcher::{PORT, Start};
use crate::contract::GRACEFUL_SECONDS;

/// How an app talks to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Asgi,
    Wsgi,
}

/// A server that can be PID 1 in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Uvicorn,
    Granian,
    Hypercorn,
    Daphne,
    Gunicorn,
    Waitress,
}

impl Interface {
    /// The servers for this interface, in the order pyship prefers them when the lock
    /// has several.
    fn servers(self) -> &'static [Server] {
        match self {
            Interface::Asgi => &[
                Server::Uvicorn,
                Server::Granian,
                Server::Hypercorn,
                Server::Daphne,
            ],
            Interface::Wsgi => &[Server::Gunicorn, Server::Waitress, Server::Granian],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Interface::Asgi => "ASGI",
            Interface::Wsgi => "WSGI",
        }
    }

    /// The server to add when the lock has none.
    pub fn suggested(self) -> Server {
        self.servers()[0]
    }

    /// The servers' names, for messages.
    pub fn server_names(self) -> String {
        let names: Vec<&str> = self.servers().iter().map(|s| s.package()).collect();
        names.join(", ")
    }

    /// The first server for this interface among the installed distributions.
    pub fn installed_server(self, installed: &[String]) -> Option<Server> {
        self.servers()
            .iter()
            .copied()
            .find(|server| installed.iter().any(|name| name == server.package()))
    }
}

impl Server {
    /// The distribution's normalized name.
    pub fn package(self) -> &'static str {
        match self {
            Server::Uvicorn => "uvicorn",
            Server::Granian => "granian",
            Server::Hypercorn => "hypercorn",
            Server::Daphne => "daphne",
            Server::Gunicorn => "gunicorn",
            Server::Waitress => "waitress",
        }
    }

    /// The command serving `target` (`module:attribute`) on all interfaces at `$PORT`.
    pub fn command(
        self,
        venv_bin: &str,
        target: &str,
        interface: Interface,
    ) -> (Vec<String>, Start) {
        let grace = GRACEFUL_SECONDS.to_string();
        let bind = format!("0.0.0.0:{PORT}");
        let program = format!("{venv_bin}/{}", self.package());
        let (args, start): (Vec<&str>, Start) = match self {
            Server::Uvicorn => (
                vec![
                    &program,
                    target,
                    "--host",
                    "0.0.0.0",
                    "--port",
                    PORT,
                    "--timeout-graceful-shutdown",
                    &grace,
                ],
                Start::Exec,
            ),
            Server::Granian => {
                let interface = match interface {
                    Interface::Asgi => "asgi",
                    Interface::Wsgi => "wsgi",
                };
                (
                    vec![
                        &program,
                        "--interface",
                        interface,
                        "--host",
                        "0.0.0.0",
                        "--port",
                        PORT,
                        target,
                    ],
                    Start::Exec,
                )
            }
            Server::Hypercorn => (
                vec![
                    &program,
                    "--bind",
                    &bind,
                    "--graceful-timeout",
                    &grace,
                    target,
                ],
                Start::Exec,
            ),
            Server::Daphne => (
                vec![&program, "--bind", "0.0.0.0", "--port", PORT, target],
                Start::Exec,
            ),
            Server::Gunicorn => (
                vec![
                    &program,
                    "--bind",
                    &bind,
                    "--graceful-timeout",
                    &grace,
                    "--access-logfile",
                    "-",
                    target,
                ],
                Start::Exec,
            ),
            // waitress-serve leaves SIGTERM to Python's default, which kills the process;
            // run in-process it exits 0.
            Server::Waitress => (vec!["waitress", "--listen", &bind, target], Start::Module),
        };
        (args.into_iter().map(str::to_owned).collect(), start)
    }
}
