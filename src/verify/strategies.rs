//! Proptest strategies (cargo feature `proptest-support`) so that users can property-test
//! their own code against sgdstab: random gradient sets with varied shape, rank, scale,
//! heavy-tailed entries and near-duplicate rows, and `(η, B)` pairs around the
//! gradient-descent threshold `2/λ_max(H)`.
//!
//! Values are built from a shrinkable [`GradientSpec`] (see [`crate::verify::generate`]), so a
//! failing case shrinks towards fewer samples, fewer parameters and lower rank.
//!
//! ```
//! use proptest::prelude::*;
//! use sgdstab::verify::strategies::{cases, gradient_sets};
//! use sgdstab::{AnalyzeOptions, Hooks, Problem, ProblemOptions, Verdict};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(8))]
//!     // shapes are as asked
//!     #[test]
//!     fn shapes(g in gradient_sets(2..=5, 1..=3)) {
//!         prop_assert!((2..=5).contains(&g.n()) && (1..=3).contains(&g.w()));
//!     }
//!     // Theorem 2 holds wherever order 2 is stable
//!     #[test]
//!     fn theorem2((g, lr, b, sampling) in cases(2..=5, 1..=3)) {
//!         let popts = ProblemOptions::default().sampling(sampling);
//!         let p = Problem::from_gradients(&g, &popts, Hooks::none()).unwrap();
//!         let rep = p.analyze(lr, b, &AnalyzeOptions::default().orders([2]), Hooks::none()).unwrap();
//!         if rep.orders[0].verdict == Verdict::Stable {
//!             prop_assert!(rep.orders[0].theorem2.holds);
//!         }
//!     }
//! }
//! # fn main() {}
//! ```

use crate::engine::gradients::Gradients;
use crate::engine::sampling::Sampling;
use crate::verify::{generate, GradientSpec};
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// [`GradientSpec`]s with `n ∈ n`, `w ∈ w`, rank in `1..=min(n, w)`, scale `10^[−2, 2]`, heavy
/// tails and near-duplicate rows on or off.
pub fn gradient_specs(
    n: RangeInclusive<usize>,
    w: RangeInclusive<usize>,
) -> impl Strategy<Value = GradientSpec> {
    (n, w)
        .prop_flat_map(|(n, w)| {
            (
                Just(n),
                Just(w),
                1..=n.min(w),
                -2.0f64..2.0,
                any::<bool>(),
                any::<bool>(),
                any::<u64>(),
            )
        })
        .prop_map(
            |(n, w, rank, log_scale, heavy_tails, near_duplicates, seed)| GradientSpec {
                n,
                w,
                rank,
                log_scale,
                heavy_tails,
                near_duplicates,
                seed,
            },
        )
}

/// Gradient sets (`n × w`, all finite) from [`gradient_specs`]. `n` and `w` must start at 1 or
/// more.
pub fn gradient_sets(
    n: RangeInclusive<usize>,
    w: RangeInclusive<usize>,
) -> impl Strategy<Value = Gradients> {
    gradient_specs(n, w).prop_map(|s| {
        // invariant: gradient_specs only produces valid specs (1 <= rank <= min(n, w), finite scale)
        generate(&s).expect("valid gradient spec")
    })
}

/// `(η, B)` pairs for `grads`: `η = f · 2/λ_max(H)` with `f ∈ [0.05, 2)` (so both sides of the
/// gradient-descent threshold `η*_1`; `η = f` when `H = 0`) and `B ∈ 1..=n`.
pub fn lr_batch_pairs(grads: &Gradients) -> impl Strategy<Value = (f64, usize)> {
    let a = nalgebra::DMatrix::from_row_slice(grads.n(), grads.w(), grads.as_slice());
    let h = a.transpose() * &a / grads.n() as f64;
    let lam = h.symmetric_eigenvalues().max();
    let unit = if lam > 0.0 { 2.0 / lam } else { 1.0 };
    (0.05f64..2.0, 1..=grads.n()).prop_map(move |(f, b)| (f * unit, b))
}

/// Both sampling schemes.
pub fn samplings() -> impl Strategy<Value = Sampling> {
    prop_oneof![
        Just(Sampling::WithoutReplacement),
        Just(Sampling::WithReplacement)
    ]
}

/// Whole cases: gradients, `η`, `B` and a sampling scheme.
pub fn cases(
    n: RangeInclusive<usize>,
    w: RangeInclusive<usize>,
) -> impl Strategy<Value = (Gradients, f64, usize, Sampling)> {
    gradient_sets(n, w)
        .prop_flat_map(|g| (lr_batch_pairs(&g), samplings(), Just(g)))
        .prop_map(|((lr, b), s, g)| (g, lr, b, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn specs_respect_their_ranges(s in gradient_specs(1..=6, 1..=4)) {
            prop_assert!((1..=6).contains(&s.n) && (1..=4).contains(&s.w));
            prop_assert!(s.rank >= 1 && s.rank <= s.n.min(s.w));
        }

        #[test]
        fn generated_rank_is_the_spec_rank(s in gradient_specs(2..=6, 1..=4)) {
            let g = generate(&s).unwrap();
            let red = crate::engine::reduction::SpanReduction::new(&g, Some(1e-12)).unwrap();
            // a near-duplicate row replaces the last row: it may add or remove one direction
            let extra = usize::from(s.near_duplicates);
            prop_assert!(red.rank.abs_diff(s.rank) <= extra && red.rank <= s.n.min(s.w),
                "rank {} for spec {:?}", red.rank, s);
        }

        #[test]
        fn pairs_straddle_the_gd_threshold((g, lr, b, _s) in cases(1..=5, 1..=3)) {
            prop_assert!(b >= 1 && b <= g.n());
            let a = nalgebra::DMatrix::from_row_slice(g.n(), g.w(), g.as_slice());
            let lam = (a.transpose() * &a / g.n() as f64).symmetric_eigenvalues().max();
            let f = lr * lam / 2.0;
            prop_assert!((0.05 - 1e-12..2.0 + 1e-12).contains(&f), "f = {f}");
        }
    }
}
