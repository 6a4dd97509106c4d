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

#[cfg(test)]
mod tests {
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
