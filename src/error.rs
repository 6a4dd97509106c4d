//! Typed errors of the library.
//!
//! Messages are lowercase, one line, and carry the context a user needs to fix the
//! problem: the file, the parameter ([`Param`]), the shape or the offending value.
//!
//! The library never spells a command-line flag: a parameter is named by its library name
//! ([`Param::name`], the Rust field and Python keyword spelling, e.g. `lr`, `orders`), and a
//! message that points at another option names it in backticks (`` `max_dense_dim` ``). The
//! binary maps both to its flags (`--lr`, `--max-dense-dim`) when it prints an error.

use std::path::PathBuf;

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file was read but its content is not what the reader accepts.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A numeric input (file content or argument) is invalid: NaN, infinite, wrong shape.
    #[error("{context}: {message}")]
    InvalidInput {
        /// Where the value came from: a file, a flag or an argument name.
        context: String,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A parameter (learning rate, batch size, order, ...) is out of its range.
    #[error("{param} = {value}: {message}")]
    InvalidParameter {
        /// The parameter.
        param: Param,
        /// The offending value as given.
        value: String,
        /// The admissible range.
        message: String,
    },
    /// The problem does not fit the memory budget of the chosen method.
    #[error("{what} needs {} but the memory budget is {}; {hint}", human_bytes(*.needed_bytes), human_bytes(*.budget_bytes))]
    TooLarge {
        /// What was to be allocated, with its dimensions.
        what: String,
        /// Bytes needed (`u128::MAX` when it overflows).
        needed_bytes: u128,
        /// The budget in bytes.
        budget_bytes: u128,
        /// What the user can do about it.
        hint: String,
    },
    /// The caller cancelled the computation through its [`crate::progress::Cancel`] hook.
    #[error("cancelled")]
    Cancelled,
    /// A numerical routine failed (an eigensolver did not converge, a result is not finite).
    #[error("numerical failure in {routine}: {message}")]
    Numerical {
        /// The routine.
        routine: &'static str,
        /// What happened.
        message: String,
    },
}

impl Error {
    /// A [`Error::TooLarge`].
    pub fn too_large(what: String, needed_bytes: u128, budget_bytes: u128, hint: &str) -> Self {
        Error::TooLarge {
            what,
            needed_bytes,
            budget_bytes,
            hint: hint.to_string(),
        }
    }

    /// A [`Error::InvalidParameter`].
    pub fn parameter(param: Param, value: impl ToString, message: impl Into<String>) -> Self {
        Error::InvalidParameter {
            param,
            value: value.to_string(),
            message: message.into(),
        }
    }
}

/// A parameter of the library's computations, named in [`Error::InvalidParameter`].
///
/// [`Param::name`] is the library spelling (the Rust option field or builder method, and the
/// keyword of the Python package); front ends map it to their own spelling (the binary to its
/// flags). The list is closed on purpose: the binary matches it exhaustively, so a new parameter
/// cannot reach a user without a flag name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    /// The gradient data itself (`grads`): the matrix, view or file.
    Grads,
    /// The learning rate `η` (`lr`).
    LearningRate,
    /// The batch size `B` (`batch`).
    Batch,
    /// The batch sizes of a diagram or sweep (`batches`).
    Batches,
    /// The orders `k` (`orders`).
    Orders,
    /// The largest order the moment statistics of a [`crate::Problem`] cover (`max_order`).
    MaxOrder,
    /// The sampling scheme (`sampling`).
    Sampling,
    /// The relative rank tolerance `τ` of the span reduction (`rank_tolerance`).
    RankTolerance,
    /// The dense eigensolver (`eigensolver`).
    Eigensolver,
    /// The method of a computation (`method`): dense or matrix-free blocks, or linearization or
    /// bisection for stable sets.
    Method,
    /// The largest dense block dimension (`max_dense_dim`).
    MaxDenseDim,
    /// The largest companion matrix of the linearization (`max_companion_rows`).
    MaxCompanionRows,
    /// The memory budget in bytes (`memory_budget`).
    MemoryBudget,
    /// The Lanczos settings (`lanczos`): tolerance, basis, restarts, product limit.
    Lanczos,
    /// The relative residual of the Theorem 1 cone iteration (`cone_tolerance`).
    ConeTolerance,
    /// The key of one array in a per-parameter dictionary file (`key`).
    Key,
    /// When to stream a gradient file (`stream`).
    Stream,
    /// An image file to draw (`plot`).
    Plot,
    /// The number of training points of a built-in data set (`n`).
    Points,
    /// The number of test points (`test_n`).
    TestPoints,
    /// The input dimension of a built-in data set (`dim`).
    Dim,
    /// The hidden widths of a network (`hidden`).
    Hidden,
    /// The interpolation threshold on the training loss (`loss_threshold`).
    LossThreshold,
    /// The loss at which training counts as diverged (`divergence_loss`).
    DivergenceLoss,
    /// The learning rates of a sweep (`lrs`).
    LearningRates,
    /// The initialisation seeds of a sweep (`seeds`).
    Seeds,
    /// The steps of the linearised simulation (`steps`).
    Steps,
    /// The Monte-Carlo paths (`paths`).
    Paths,
    /// The perturbation size of the escape test (`perturbation`).
    Perturbation,
    /// The trials of the escape test (`trials`).
    Trials,
    /// The number of radii of the Section 5 grid (`grid`).
    Grid,
    /// Explicit radii of Section 5 (`deltas`).
    Deltas,
    /// Random probe directions per point and radius (`samples`).
    Samples,
    /// Projected-ascent steps per probe chain (`ascent_steps`).
    AscentSteps,
    /// The number of random cases of `verify` (`cases`).
    Cases,
}

impl Param {
    /// Every parameter.
    pub const ALL: [Param; 35] = [
        Param::Grads,
        Param::LearningRate,
        Param::Batch,
        Param::Batches,
        Param::Orders,
        Param::MaxOrder,
        Param::Sampling,
        Param::RankTolerance,
        Param::Eigensolver,
        Param::Method,
        Param::MaxDenseDim,
        Param::MaxCompanionRows,
        Param::MemoryBudget,
        Param::Lanczos,
        Param::ConeTolerance,
        Param::Key,
        Param::Stream,
        Param::Plot,
        Param::Points,
        Param::TestPoints,
        Param::Dim,
        Param::Hidden,
        Param::LossThreshold,
        Param::DivergenceLoss,
        Param::LearningRates,
        Param::Seeds,
        Param::Steps,
        Param::Paths,
        Param::Perturbation,
        Param::Trials,
        Param::Grid,
        Param::Deltas,
        Param::Samples,
        Param::AscentSteps,
        Param::Cases,
    ];

    /// The library spelling: `lr`, `batch`, `orders`, `rank_tolerance`, ….
    pub fn name(self) -> &'static str {
        match self {
            Param::Grads => "grads",
            Param::LearningRate => "lr",
            Param::Batch => "batch",
            Param::Batches => "batches",
            Param::Orders => "orders",
            Param::MaxOrder => "max_order",
            Param::Sampling => "sampling",
            Param::RankTolerance => "rank_tolerance",
            Param::Eigensolver => "eigensolver",
            Param::Method => "method",
            Param::MaxDenseDim => "max_dense_dim",
            Param::MaxCompanionRows => "max_companion_rows",
            Param::MemoryBudget => "memory_budget",
            Param::Lanczos => "lanczos",
            Param::ConeTolerance => "cone_tolerance",
            Param::Key => "key",
            Param::Stream => "stream",
            Param::Plot => "plot",
            Param::Points => "n",
            Param::TestPoints => "test_n",
            Param::Dim => "dim",
            Param::Hidden => "hidden",
            Param::LossThreshold => "loss_threshold",
            Param::DivergenceLoss => "divergence_loss",
            Param::LearningRates => "lrs",
            Param::Seeds => "seeds",
            Param::Steps => "steps",
            Param::Paths => "paths",
            Param::Perturbation => "perturbation",
            Param::Trials => "trials",
            Param::Grid => "grid",
            Param::Deltas => "deltas",
            Param::Samples => "samples",
            Param::AscentSteps => "ascent_steps",
            Param::Cases => "cases",
        }
    }

    /// The name in backticks, as messages that point at this option write it.
    pub fn quoted(self) -> String {
        format!("`{}`", self.name())
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `1234567` → `"1.18 MiB (1234567 bytes)"`.
pub fn human_bytes(b: u128) -> String {
    if b == u128::MAX {
        return "more than 2^128 bytes".into();
    }
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} bytes")
    } else {
        format!("{v:.2} {} ({b} bytes)", units[u])
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_param_is_listed_once_with_a_distinct_name() {
        let mut names: Vec<&str> = Param::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Param::ALL.len());
        for p in Param::ALL {
            assert!(
                !p.name().starts_with('-') && !p.name().contains('-'),
                "{p:?}"
            );
        }
        let e = Error::parameter(Param::LearningRate, -0.5, "the learning rate must be > 0");
        assert_eq!(e.to_string(), "lr = -0.5: the learning rate must be > 0");
    }
}
