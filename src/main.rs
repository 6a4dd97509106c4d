//! The `sgdstab` command-line tool: argument parsing and exit codes; all work is in the library.
//!
//! Exit codes: 0 success (whatever the verdict), 1 a check failed and `--strict` asked to fail,
//! 2 usage or input error.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // clap's message, on one line (its first line, without the "error: " prefix)
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("sgdstab: error: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sgdstab: error: {}", cli::flags::one_line(&e));
            ExitCode::from(2)
        }
    }
}
