//! The command line: parses arguments, dispatches to a command, turns its result into
//! an exit code. Errors print as one line; input and usage errors exit 2.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Build, lint and verify production container images for Python web services.
#[derive(Debug, Parser)]
#[command(name = "pyship", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Build(crate::build::BuildArgs),
    Init(crate::init::InitArgs),
    Lint(crate::lint::LintArgs),
    Verify(crate::verify::VerifyArgs),
    Promote(crate::promote::PromoteArgs),
    Cache(crate::cache::CacheArgs),
    /// Print a completion script for a shell, e.g. `pyship completions bash >
    /// ~/.local/share/bash-completion/completions/pyship`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the command line and maps the outcome to the process exit code:
/// 0 success, 1 findings or failed checks, 2 usage or input errors.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Build(args) => crate::build::run(args),
        Command::Init(args) => crate::init::run(args),
        Command::Lint(args) => crate::lint::run(args),
        Command::Verify(args) => crate::verify::run(args),
        Command::Promote(args) => crate::promote::run(args),
        Command::Cache(args) => crate::cache::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "pyship", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", crate::error::one_line(&err));
            ExitCode::from(2)
        }
    }
}
