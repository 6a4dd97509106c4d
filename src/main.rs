//! The `sgdstab` command-line tool: argument parsing and exit codes; all work is in the library.
//!
//! Exit codes: 0 success (whatever the verdict), 1 a check failed and `--strict` asked to fail,
//! 2 usage or input error (also: standard output cannot be written, e.g. a full disk). A closed
//! pipe on standard output (`sgdstab … | head`) ends the run quietly: killed by `SIGPIPE` as
//! other Unix tools are, or exit 0 where `SIGPIPE` is ignored.

mod cli;

use std::io::Write;
use std::process::ExitCode;

/// Restores the default action of `SIGPIPE` (the Rust runtime ignores it, which turns a closed
/// pipe into an `EPIPE` error on every write).
#[cfg(unix)]
fn default_sigpipe() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: `signal` with SIG_DFL installs no handler; called before any thread is started.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

/// The one error line on stderr (dropped if stderr cannot be written either).
fn error_line(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "sgdstab: error: {message}");
}

/// The exit code for a failed write of standard output: quiet for a closed pipe, else exit 2.
fn stdout_failed(e: &std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    error_line(&format!("standard output: {e}"));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    default_sigpipe();
    // reports must not depend on RAYON_NUM_THREADS (faer splits work by a fixed task count)
    sgdstab::parallel::pin_faer_parallelism();
    let code = run();
    // whatever is still buffered: a failure here is a failure of the run
    if let Err(e) = std::io::stdout().lock().flush() {
        return stdout_failed(&e);
    }
    code
}

fn run() -> ExitCode {
    if std::env::args_os().len() <= 1 {
        let _ = writeln!(std::io::stderr().lock(), "{}", cli::short_usage());
        return ExitCode::from(2);
    }
    let args = match cli::parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                return match e.print() {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(io) => stdout_failed(&io),
                };
            }
            // clap's message, on one line (its first line, without the "error: " prefix)
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            error_line(&format!("{first} (see --help)"));
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<cli::StdoutError>() {
            Some(out) => stdout_failed(&out.0),
            None => {
                error_line(&cli::flags::one_line(&e));
                ExitCode::from(2)
            }
        },
    }
}
