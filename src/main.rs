//! The `sgdstab` command-line tool: argument parsing and exit codes; all work is in the library.
//!
//! Exit codes: 0 success (whatever the verdict), 1 a check failed and `--strict` asked to fail,
//! 2 usage or input error.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sgdstab: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error chain on one line.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
