//! The binary's spelling of the library's parameters: [`sgdstab::Param`] → flag, and library
//! errors rendered with flags (`lr = 0: …` → `--lr = 0: …`, `` `max_dense_dim` `` →
//! `--max-dense-dim`).

use sgdstab::{Error, Param};

/// The flag (or argument) of `p`. Exhaustive on purpose: a new parameter does not compile
/// without a flag name.
pub fn flag(p: Param) -> &'static str {
    match p {
        Param::Grads => "GRADS",
        Param::LearningRate => "--lr",
        Param::Batch => "--batch",
        Param::Batches => "--batches",
        Param::Orders | Param::MaxOrder => "--order",
        Param::Sampling => "--sampling",
        Param::RankTolerance => "--rank-tol",
        Param::Eigensolver => "--eigensolver",
        Param::Method => "--method",
        Param::MaxDenseDim => "--max-dense-dim",
        Param::MaxCompanionRows => "--max-companion-rows",
        Param::MemoryBudget => "SGDSTAB_MEMORY_BYTES",
        Param::Lanczos => "--lanczos-tol",
        Param::ConeTolerance => "--cone-tol",
        Param::Key => "--key",
        Param::Stream => "--stream",
        Param::Plot => "--plot",
        Param::Points => "--n",
        Param::TestPoints => "--test-n",
        Param::Dim => "--dim",
        Param::Hidden => "--hidden",
        Param::LossThreshold | Param::DivergenceLoss => "--loss-threshold",
        Param::LearningRates => "--lrs",
        Param::Seeds => "--seeds",
        Param::Steps => "--steps",
        Param::Paths => "--paths",
        Param::Perturbation => "--perturbation",
        Param::Trials => "--trials",
        Param::Grid => "--grid",
        Param::Deltas => "--deltas",
        Param::Samples => "--samples",
        Param::AscentSteps => "--ascent-steps",
        Param::Cases => "--cases",
    }
}

/// `text` with every `` `name` `` of a parameter replaced by its flag.
pub fn translate(text: &str) -> String {
    let mut out = text.to_string();
    for p in Param::ALL {
        let quoted = p.quoted();
        if out.contains(&quoted) {
            out = out.replace(&quoted, flag(p));
        }
    }
    out
}

/// A library error as the binary prints it: parameters named by their flags.
pub fn render(e: &Error) -> String {
    match e {
        Error::InvalidParameter {
            param,
            value,
            message,
        } => format!("{} = {value}: {}", flag(*param), translate(message)),
        Error::Numerical { routine, message } => {
            // faer's `NoConvergence` (Debug) in words
            let message = if message.contains("NoConvergence") {
                "the eigensolver did not converge (NoConvergence)".to_string()
            } else {
                message.clone()
            };
            translate(&format!("numerical failure in {routine}: {message}"))
        }
        other => translate(&other.to_string()),
    }
}

/// The error chain on one line, library errors rendered with flags.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = match cause.downcast_ref::<Error>() {
            Some(lib) => render(lib),
            None => translate(&cause.to_string()),
        }
        .replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_exists_in_some_subcommand() {
        let cmd = super::super::Cli::command();
        let mut longs: Vec<String> = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                if let Some(l) = arg.get_long() {
                    longs.push(format!("--{l}"));
                }
                for a in arg.get_all_aliases().unwrap_or_default() {
                    longs.push(format!("--{a}"));
                }
            }
        }
        for p in Param::ALL {
            let f = flag(p);
            if f == "GRADS" || f == "SGDSTAB_MEMORY_BYTES" {
                continue;
            }
            assert!(
                longs.iter().any(|l| l == f),
                "{p:?} maps to {f}, no such flag"
            );
        }
    }

    #[test]
    fn library_errors_are_printed_with_flags() {
        let e = Error::parameter(
            Param::Orders,
            4,
            format!(
                "lower k, raise {}, or use {} auto",
                Param::MaxDenseDim.quoted(),
                Param::Method.quoted()
            ),
        );
        assert_eq!(
            e.to_string(),
            "orders = 4: lower k, raise `max_dense_dim`, or use `method` auto"
        );
        assert_eq!(
            render(&e),
            "--order = 4: lower k, raise --max-dense-dim, or use --method auto"
        );
        let chained = anyhow::Error::new(Error::parameter(Param::LearningRate, 0, "must be > 0"));
        assert_eq!(one_line(&chained), "--lr = 0: must be > 0");
    }
}
