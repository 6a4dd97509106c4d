//! An operator that polls the cancellation hook at every product.
//!
//! Iterative solvers (Lanczos, the Theorem 1 cone iteration, the pencil of the `j = 2` threshold)
//! apply their operator in a loop and have no error path of their own. Wrapped in
//! [`Cancellable`], each product first asks [`crate::progress::Hooks`] whether to stop; once the
//! caller has asked, every further product returns the zero vector, which ends any Krylov or
//! power iteration at its next step (an invariant subspace, a zero iterate), and
//! [`Cancellable::finish`] turns the result into [`crate::Error::Cancelled`]. A run therefore
//! stops within one product of the request.

use crate::engine::linop::SymmetricOperator;
use crate::error::{Error, Result};
use crate::progress::Hooks;
use std::sync::atomic::{AtomicBool, Ordering};

/// `op` with a cancellation check before every product.
pub(crate) struct Cancellable<'a> {
    op: &'a dyn SymmetricOperator,
    hooks: Hooks<'a>,
    stopped: AtomicBool,
    /// Label, expected and maximal product counts of the time estimate sent after the first
    /// product (taken by that product).
    estimate: std::sync::Mutex<Option<(String, usize, usize)>>,
}

impl<'a> Cancellable<'a> {
    /// Wraps `op`.
    pub fn new(op: &'a dyn SymmetricOperator, hooks: Hooks<'a>) -> Self {
        Cancellable {
            op,
            hooks,
            stopped: AtomicBool::new(false),
            estimate: std::sync::Mutex::new(None),
        }
    }

    /// Wraps `op`; the first product is timed and followed by the progress message
    /// [`crate::progress::product_estimate_message`] (`label`, `expected` and `max` products).
    pub fn with_estimate(
        op: &'a dyn SymmetricOperator,
        hooks: Hooks<'a>,
        label: String,
        expected: usize,
        max: usize,
    ) -> Self {
        let c = Cancellable::new(op, hooks);
        *c.estimate.lock().unwrap_or_else(|e| e.into_inner()) = Some((label, expected, max));
        c
    }

    /// `Err(Cancelled)` if a product was refused (or the caller asks now), else `Ok(())`.
    pub fn finish(&self) -> Result<()> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        self.hooks.checkpoint()
    }
}

impl SymmetricOperator for Cancellable<'_> {
    fn dim(&self) -> usize {
        self.op.dim()
    }

    fn apply(&self, x: &[f64], y: &mut [f64]) {
        if self.stopped.load(Ordering::Relaxed) || self.hooks.checkpoint().is_err() {
            self.stopped.store(true, Ordering::Relaxed);
            y.iter_mut().for_each(|v| *v = 0.0);
            return;
        }
        let pending = self
            .estimate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let started = std::time::Instant::now();
        self.op.apply(x, y);
        if let Some((label, expected, max)) = pending {
            let per = started.elapsed().as_secs_f64();
            let msg = crate::progress::product_estimate_message(&label, per, expected, max);
            self.hooks.progress.advance(0, &msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::lanczos::{extreme_eigenvalues, LanczosOptions};
    use crate::engine::linop::DenseSymmetric;
    use crate::progress::NoProgress;
    use std::sync::atomic::AtomicUsize;

    /// Counts products and raises the flag after `after` of them.
    struct Tripwire<'a> {
        inner: DenseSymmetric<'a>,
        count: AtomicUsize,
        after: usize,
        flag: &'a AtomicBool,
    }

    impl SymmetricOperator for Tripwire<'_> {
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn apply(&self, x: &[f64], y: &mut [f64]) {
            if self.count.fetch_add(1, Ordering::Relaxed) + 1 >= self.after {
                self.flag.store(true, Ordering::Relaxed);
            }
            self.inner.apply(x, y);
        }
    }

    #[test]
    fn lanczos_stops_within_a_product_of_the_request() {
        // a diagonal operator with a clustered spectrum: Lanczos would need many products
        let d = 400;
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            m[i + i * d] = 1.0 - 1e-6 * i as f64;
        }
        let flag = AtomicBool::new(false);
        let trip = Tripwire {
            inner: DenseSymmetric::new(&m, d),
            count: AtomicUsize::new(0),
            after: 5,
            flag: &flag,
        };
        let op = Cancellable::new(&trip, Hooks::new(&NoProgress, &flag));
        let opts = LanczosOptions {
            tolerance: 1e-15,
            ..LanczosOptions::default()
        };
        let _ = extreme_eigenvalues(&op, &opts);
        assert!(matches!(op.finish(), Err(Error::Cancelled)));
        // the tripwire's product and no other reached the operator
        assert_eq!(trip.count.load(Ordering::Relaxed), 5);

        // without a request the result is the operator's
        let calm = AtomicBool::new(false);
        let plain = DenseSymmetric::new(&m, d);
        let op = Cancellable::new(&plain, Hooks::new(&NoProgress, &calm));
        let r = extreme_eigenvalues(&op, &LanczosOptions::default());
        assert!(op.finish().is_ok());
        assert!((r.lambda_max - 1.0).abs() < 1e-9);
    }
}
