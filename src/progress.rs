//! Progress and cancellation hooks: the library announces its steps and asks whether to stop;
//! the binary (or the Python module) draws the steps and answers the question.
//!
//! Long computations take a [`Hooks`] and call [`Hooks::checkpoint`] at least once per operator
//! product (and once per eigensolve, training step batch or Monte-Carlo chunk), so a caller can stop
//! a run within a second: set the flag behind a [`Cancel`] (e.g. from a Ctrl-C handler) and the
//! computation returns [`Error::Cancelled`] at its next checkpoint, writing nothing.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Receives progress events. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A phase with `total` steps begins.
    fn begin(&self, _label: &str, _total: u64) {}
    /// `steps` more steps are done; `message` says what is being done now.
    fn advance(&self, _steps: u64, _message: &str) {}
    /// The phase is over.
    fn end(&self) {}
}

/// Discards all events.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Answers "should the computation stop now?"; polled at every [`Hooks::checkpoint`].
pub trait Cancel: Sync {
    /// `true` once the caller wants the computation to stop.
    fn is_cancelled(&self) -> bool;
}

/// Never cancels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverCancel;

impl Cancel for NeverCancel {
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A flag set by another thread or a signal handler (`store(true, Relaxed)` is enough).
impl Cancel for AtomicBool {
    fn is_cancelled(&self) -> bool {
        self.load(Ordering::Relaxed)
    }
}

/// The progress and cancellation hooks of one computation.
#[derive(Clone, Copy)]
pub struct Hooks<'a> {
    /// Progress events.
    pub progress: &'a dyn Progress,
    /// Cancellation.
    pub cancel: &'a dyn Cancel,
}

impl std::fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks")
    }
}

impl Default for Hooks<'_> {
    fn default() -> Self {
        Hooks::none()
    }
}

impl<'a> Hooks<'a> {
    /// No progress, never cancelled.
    pub fn none() -> Hooks<'static> {
        Hooks {
            progress: &NoProgress,
            cancel: &NeverCancel,
        }
    }

    /// Progress only, never cancelled.
    pub fn progress(progress: &'a dyn Progress) -> Self {
        Hooks {
            progress,
            cancel: &NeverCancel,
        }
    }

    /// Progress and cancellation.
    pub fn new(progress: &'a dyn Progress, cancel: &'a dyn Cancel) -> Self {
        Hooks { progress, cancel }
    }

    /// `Err(Error::Cancelled)` if the caller asked to stop, else `Ok(())`. Cheap (one relaxed
    /// atomic load for the usual flag): call it at least once per operator product.
    pub fn checkpoint(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Seconds per `D³` of a dense block (build plus symmetric eigensolve, faer, two cores of a
/// 2020s x86 machine; measured at D = 2380): the base of [`block_message`]'s estimate.
pub const DENSE_SECONDS_PER_CUBE: f64 = 3e-10;

/// The progress message before the work on block `T_j` on `Sym^j(R^r)` (dimension `d`) by
/// `method` (`"dense"`, `"matrix-free"`): states `D` and the method, and for a dense block an
/// estimate of its time (`O(D³)`).
pub fn block_message(j: usize, r: usize, d: u128, method: &str) -> String {
    let mut m = format!("T_{j} on Sym^{j}(R^{r}), D = {d}, {method}");
    if method == "dense" {
        let secs = DENSE_SECONDS_PER_CUBE * (d as f64).powi(3);
        if secs >= 1.0 {
            m.push_str(&format!(", about {}", human_seconds(secs)));
        }
    }
    m
}

/// The message an iterative block solver sends after its first operator product (issue 14): the
/// block's `label` (which states `D` and the method, see [`block_message`]), the measured seconds
/// per product and the estimated time: `expected` products (a typical run) and at most `max`.
pub fn product_estimate_message(
    label: &str,
    per_product: f64,
    expected: usize,
    max: usize,
) -> String {
    step_estimate_message(label, per_product, "product", expected, max)
}

/// [`product_estimate_message`] for steps named `unit` (e.g. `round`: the clustered solver's
/// capacitance rounds).
pub fn step_estimate_message(
    label: &str,
    per_step: f64,
    unit: &str,
    expected: usize,
    max: usize,
) -> String {
    let expected = expected.min(max);
    format!(
        "{label}: {per_step:.2} s per {unit}, about {} ({expected} {unit}s), at most {} ({max} {unit}s)",
        human_seconds(per_step * expected as f64),
        human_seconds(per_step * max as f64)
    )
}

/// `12 s`, `3.5 min`, `2.1 h`.
pub fn human_seconds(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn block_messages_state_d_the_method_and_the_time() {
        assert_eq!(
            super::block_message(2, 3, 6, "dense"),
            "T_2 on Sym^2(R^3), D = 6, dense"
        );
        assert_eq!(
            super::block_message(4, 60, 595_665, "matrix-free"),
            "T_4 on Sym^4(R^60), D = 595665, matrix-free"
        );
        let m = super::block_message(3, 40, 11_480, "dense");
        assert!(m.ends_with(", about 7.6 min"), "{m}");
        let l = super::block_message(3, 200, 1_353_400, "davidson");
        assert_eq!(
            super::product_estimate_message(&l, 0.5, 40, 400),
            "T_3 on Sym^3(R^200), D = 1353400, davidson: 0.50 s per product, about 20 s (40 products), at most 3.3 min (400 products)"
        );
    }

    use super::*;

    #[test]
    fn checkpoint_follows_the_flag() {
        let flag = AtomicBool::new(false);
        let hooks = Hooks::new(&NoProgress, &flag);
        assert!(hooks.checkpoint().is_ok());
        flag.store(true, Ordering::Relaxed);
        assert!(matches!(hooks.checkpoint(), Err(Error::Cancelled)));
        assert!(Hooks::none().checkpoint().is_ok());
    }
}
