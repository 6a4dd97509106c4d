//! Thread-count independence: the numbers a run reports do not depend on `RAYON_NUM_THREADS`.
//!
//! The crate's own parallel loops split their work into chunks of a fixed size and combine the
//! chunk results in chunk order, whatever the number of threads. faer's kernels (matrix products,
//! eigensolvers) split their work by a *thread count* they are given; left at its default, that
//! count is the size of the rayon pool, so the summation order — and the last digits — changed
//! with `RAYON_NUM_THREADS`. Every faer call of the crate therefore gets [`faer_par`], a fixed
//! count ([`FAER_TASKS`]) of tasks that rayon runs on however many threads it has, and the first
//! call pins faer's global setting (used by its high-level methods such as
//! `self_adjoint_eigen`) to the same value.
//!
//! What may still differ between machines: faer and gemm pick SIMD kernels (AVX2, AVX-512, NEON)
//! at run time, and those sum in different orders, so two CPUs can disagree in the last digits.

use std::sync::Once;

/// The number of tasks faer splits its parallel kernels into, independent of the thread pool.
pub const FAER_TASKS: usize = 8;

/// faer's parallelism for every call of the crate: [`FAER_TASKS`] tasks on the rayon pool.
/// Also pins faer's global parallelism to the same value (once per process).
pub fn faer_par() -> faer::Par {
    pin_faer_parallelism();
    faer::Par::rayon(FAER_TASKS)
}

/// Sets faer's global parallelism to [`FAER_TASKS`] tasks (idempotent). Call it before using
/// faer's high-level methods directly if their results must not depend on the thread count.
pub fn pin_faer_parallelism() {
    static PIN: Once = Once::new();
    PIN.call_once(|| faer::set_global_parallelism(faer::Par::rayon(FAER_TASKS)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_setting_is_pinned() {
        let _ = faer_par();
        assert_eq!(faer::get_global_parallelism(), faer::Par::rayon(FAER_TASKS));
    }
}
