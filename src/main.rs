use std::process::ExitCode;

fn main() -> ExitCode {
    pyship::cli::main()
}
