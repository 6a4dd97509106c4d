//! Property tests of the paper's implications on random gradient sets, both sampling schemes:
//!
//! - Prop. 1 (`q <= 1`) ⇒ 2nd-order stable, and more precisely `ρ_2 <= q` on the reduced space;
//! - order `k` stable ⇒ Theorem 2 ⇒ Corollary 1;
//! - for even `k` the cone power iteration (Theorem 1's literal condition) reproduces `ρ_k`.
//!
//! A failure of the first two on some input would be a counterexample to the paper (or a bug);
//! proptest prints the minimal input.

use crate::common;

use proptest::prelude::*;
use sgdstab::{AnalyzeOptions, Gradients, Sampling, Verdict};

/// A random gradient set: n × w, entries from a mix of normal and heavy-tailed laws, a random
/// overall scale, optionally with near-duplicate rows.
fn gradient_set() -> impl Strategy<Value = Gradients> {
    (
        1usize..=7,
        1usize..=4,
        any::<u64>(),
        -1.0f64..1.0,
        prop::bool::ANY,
    )
        .prop_map(|(n, w, seed, log_scale, dup)| {
            let mut s = seed;
            let mut next = || {
                s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            };
            let scale = 10f64.powf(log_scale);
            let mut rows: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    (0..w)
                        .map(|_| {
                            let u = next().max(1e-12);
                            let v = next();
                            let g = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                            // every third entry heavy-tailed (Cauchy-like)
                            if next() < 0.33 {
                                scale
                                    * (std::f64::consts::PI * (next() - 0.5))
                                        .tan()
                                        .clamp(-50.0, 50.0)
                            } else {
                                scale * g
                            }
                        })
                        .collect()
                })
                .collect();
            if dup && n >= 2 {
                let eps = 1e-6 * scale;
                rows[n - 1] = rows[0].iter().map(|x| x + eps * next()).collect();
            }
            Gradients::from_rows(&rows).unwrap()
        })
}

fn sharpness(g: &Gradients) -> f64 {
    let (n, w) = (g.n(), g.w());
    let mut h = nalgebra::DMatrix::<f64>::zeros(w, w);
    for i in 0..n {
        let a = nalgebra::DVector::from_row_slice(g.row(i));
        h += &a * a.transpose() / n as f64;
    }
    h.symmetric_eigenvalues().max()
}

fn case() -> impl Strategy<Value = (Gradients, f64, usize, Sampling)> {
    (gradient_set(), 0.05f64..1.6, any::<u64>(), prop::bool::ANY).prop_map(|(g, f, bseed, with)| {
        let lam = sharpness(&g).max(1e-300);
        let lr = f * 2.0 / lam;
        let b = 1 + (bseed % g.n() as u64) as usize;
        let sampling = if with {
            Sampling::WithReplacement
        } else {
            Sampling::WithoutReplacement
        };
        (g, lr, b, sampling)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, .. ProptestConfig::default() })]

    #[test]
    fn prop1_implies_second_order_stability((g, lr, b, sampling) in case()) {
        let rep = common::analyze_with(&g, lr, b, sampling, &AnalyzeOptions::default().orders([2]));
        let o = &rep.orders[0];
        // ρ(T_2^{(b)}) <= q and ρ(T_1^{(b)})² <= q always; so q <= 1 ⇒ order 2 stable
        let tol = o.error_bound + rep.prop1.error_bound;
        for blk in &o.blocks {
            let power = match blk.j { 1 => 2, 2 => 1, _ => continue };
            prop_assert!(blk.radius.powi(power) <= rep.prop1.value + tol,
                "ρ(T_{})^{power} = {} > q = {} (tol {tol:e})", blk.j, blk.radius, rep.prop1.value);
        }
        if rep.prop1.stable {
            prop_assert!(o.verdict != Verdict::Unstable, "Prop. 1 holds but order 2 is unstable: {o:?}");
        }
    }

    #[test]
    fn stability_implies_theorem2_implies_corollary1((g, lr, b, sampling) in case(), k in 1usize..=4) {
        let rep = common::analyze_with(&g, lr, b, sampling, &AnalyzeOptions::default().orders([k]));
        let o = &rep.orders[0];
        if o.verdict == Verdict::Stable {
            prop_assert!(o.theorem2.holds, "k={k} stable but Theorem 2 fails: {:?}", o.theorem2);
            prop_assert!(o.corollary1.holds, "k={k} stable but Corollary 1 fails: {:?}", o.corollary1);
        }
        if o.theorem2.holds {
            prop_assert!(o.corollary1.holds, "Theorem 2 holds but Corollary 1 fails: {:?} {:?}", o.theorem2, o.corollary1);
        }
        prop_assert!(rep.consistency.ok, "{:?}", rep.consistency.findings);
    }

    #[test]
    fn cone_ratio_equals_the_spectral_radius((g, lr, b, sampling) in case(), half in 1usize..=2) {
        let k = 2 * half;
        let opts = AnalyzeOptions::default()
            .orders([k])
            .cone_tolerance(1e-13)
            .cone_max_iterations(Some(200_000));
        let rep = common::analyze_with(&g, lr, b, sampling, &opts);
        let o = &rep.orders[0];
        let c = o.cone.as_ref().expect("even k has a cone check");
        // lower bound always; equality once converged
        let ratio = c.ratio.expect("dense blocks run the cone check");
        prop_assert!(ratio <= c.block_radius * (1.0 + 1e-12) + o.error_bound);
        prop_assert!(c.relative_difference.expect("run") <= 1e-8,
            "cone ratio {:?} vs ρ_{k} {} after {} iterations ({:?}, residual {:?})",
            c.ratio, c.block_radius, c.iterations, c.termination, c.residual);
    }
}
