//! Property tests of the stable sets (both schemes unless stated):
//! - η*_2 is non-decreasing in B (without replacement; Mulayoff & Michaeli Prop. 1);
//! - η*_k never exceeds the Theorem 2 implied limit;
//! - ρ_k(η) <= 1 at an interior point of each reported stable interval and > 1 inside each
//!   unstable one, by `analyze` (the operator assembled directly at η, not from the coefficients);
//! - every boundary from the linearization matches an independent bisection on `analyze`'s ρ,
//!   and the bisection fallback's η*_k matches the linearization's.

use crate::common;

use proptest::prelude::*;
use sgdstab::threshold::theorem2_lr_limit;
use sgdstab::{AnalyzeOptions, Gradients, MethodChoice, Sampling, Verdict};

fn gradients() -> impl Strategy<Value = Gradients> {
    (
        2usize..=6,
        1usize..=3,
        any::<u64>(),
        -1.0f64..1.0,
        any::<bool>(),
    )
        .prop_map(|(n, w, seed, log_scale, dup)| {
            let mut rng = sgdstab::verify::SplitMix::new(seed);
            let scale = 10f64.powf(log_scale);
            let mut rows: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    (0..w)
                        .map(|_| {
                            if rng.uniform() < 0.3 {
                                scale * rng.heavy()
                            } else {
                                scale * rng.normal()
                            }
                        })
                        .collect()
                })
                .collect();
            if dup {
                rows[n - 1] = rows[0]
                    .iter()
                    .map(|x| x * (1.0 + 1e-6 * rng.normal()))
                    .collect();
            }
            Gradients::from_rows(&rows).unwrap()
        })
}

fn sampling() -> impl Strategy<Value = Sampling> {
    prop_oneof![
        Just(Sampling::WithoutReplacement),
        Just(Sampling::WithReplacement)
    ]
}

fn solve(
    g: &Gradients,
    b: usize,
    s: Sampling,
    k: usize,
    m: MethodChoice,
) -> sgdstab::threshold::OrderStableSet {
    common::stable_set_by(g, b, s, k, m)
}

fn reduced_radius(g: &Gradients, lr: f64, b: usize, s: Sampling, k: usize) -> (f64, f64, Verdict) {
    let r = common::analyze_with(g, lr, b, s, &AnalyzeOptions::default().orders([k]));
    (
        r.orders[0].reduced_radius,
        r.orders[0].error_bound,
        r.orders[0].verdict,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn eta2_is_non_decreasing_in_b(g in gradients()) {
        let mut prev: Option<(usize, f64, f64)> = None;
        for b in 1..=g.n() {
            let o = solve(&g, b, Sampling::WithoutReplacement, 2, MethodChoice::Auto);
            let (eta, err) = (o.lr_threshold.unwrap(), o.lr_threshold_error.unwrap());
            if let Some((pb, pe, perr)) = prev {
                prop_assert!(pe - perr <= eta + err, "η*_2(B={pb}) = {pe} > η*_2(B={b}) = {eta}");
            }
            prev = Some((b, eta, err));
        }
    }

    #[test]
    fn eta_k_is_below_the_theorem2_limit(g in gradients(), s in sampling(), k in 1usize..=4, bseed in any::<u64>()) {
        let b = 1 + (bseed % g.n() as u64) as usize;
        let o = solve(&g, b, s, k, MethodChoice::Auto);
        let eta = o.lr_threshold.unwrap();
        let lim = theorem2_lr_limit(&g, k, b).unwrap();
        prop_assert!(eta - o.lr_threshold_error.unwrap() <= lim * (1.0 + 1e-13),
            "k={k} B={b} {s}: η*_k = {eta} > Theorem 2 limit {lim}");
        // and every stable interval lies below it
        for iv in &o.stable_set {
            prop_assert!(iv.hi.is_some_and(|h| h <= lim * (1.0 + 1e-9)), "{:?} vs {lim}", o.stable_set);
        }
    }

    #[test]
    fn radius_at_interior_points_matches_the_classification(g in gradients(), s in sampling(), k in 1usize..=3, bseed in any::<u64>()) {
        let b = 1 + (bseed % g.n() as u64) as usize;
        let o = solve(&g, b, s, k, MethodChoice::Auto);
        prop_assert!(o.stable_set_complete);
        // points: midpoints of stable intervals and of the gaps between/after them
        let mut ends = Vec::new();
        for iv in &o.stable_set {
            ends.push(iv.lo);
            ends.push(iv.hi.unwrap());
        }
        let last = *ends.last().unwrap();
        for (i, pair) in ends.windows(2).enumerate() {
            let stable = i % 2 == 0;
            let x = if pair[0] == 0.0 { 0.5 * pair[1] } else { (pair[0] * pair[1]).sqrt() };
            let (rho, err, _) = reduced_radius(&g, x, b, s, k);
            if stable {
                prop_assert!(rho <= 1.0 + err, "η={x} inside S_{k} = {:?} but ρ = {rho}", o.stable_set);
            } else {
                prop_assert!(rho > 1.0 - err, "η={x} in a gap of S_{k} = {:?} but ρ = {rho}", o.stable_set);
            }
        }
        let (rho, err, _) = reduced_radius(&g, 2.0 * last, b, s, k);
        prop_assert!(rho > 1.0 - err, "beyond the last boundary {last}: ρ = {rho}");
    }

    #[test]
    fn linearization_boundaries_match_bisection(g in gradients(), s in sampling(), k in 1usize..=3, bseed in any::<u64>()) {
        let b = 1 + (bseed % g.n() as u64) as usize;
        let lin = solve(&g, b, s, k, MethodChoice::Linearization);
        let bis = solve(&g, b, s, k, MethodChoice::Bisection);
        let (e1, e2) = (lin.lr_threshold.unwrap(), bis.lr_threshold.unwrap());
        prop_assert!((e1 - e2).abs() <= 1e-9 * e1, "η*_{k}: linearization {e1} vs bisection fallback {e2}");
        // each boundary: independent bisection on analyze's verdict inside its bracket ±1e-6
        for bd in &lin.boundaries {
            let (mut lo, mut hi) = (bd.lr * (1.0 - 1e-6), bd.lr * (1.0 + 1e-6));
            let unstable = |x: f64| reduced_radius(&g, x, b, s, k).0 > 1.0;
            let lo_unstable = unstable(lo);
            prop_assert!(lo_unstable != unstable(hi), "no sign change around boundary {}", bd.lr);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if unstable(mid) == lo_unstable { lo = mid } else { hi = mid }
            }
            let x = 0.5 * (lo + hi);
            prop_assert!((x - bd.lr).abs() <= 1e-9 * bd.lr, "boundary {} vs bisection {x}", bd.lr);
        }
    }
}
