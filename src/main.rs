use std::process::ExitCode;

fn main() -> ExitCode {
    kubegate::cli::main()
}
