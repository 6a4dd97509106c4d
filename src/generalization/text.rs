//! The `generalization` report as text.

use super::report::GeneralizationReport;

/// The report as text: the estimated quantities, the covering table, and per order the eq. (26)
/// terms and eq. (27) next to the measurements.
pub fn text(r: &GeneralizationReport) -> String {
    use crate::report::text::num;
    use std::fmt::Write;
    let name = |v: &dyn erased::Name| v.name();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab generalization{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "  training: {}", r.dataset);
    let _ = writeln!(s, "  test:     {}", r.test_set);
    let _ = writeln!(
        s,
        "  n = {}, n_test = {}, d = {}, w = {}, W_1 is {} × {}; training η = {}, B = {}",
        r.n, r.n_test, r.d, r.w, r.m, r.d, r.lr, r.batch
    );
    let _ = writeln!(
        s,
        "  measured: test MSE = {} (test target variance {}), largest training residual {}",
        num(r.measured.test_mse),
        num(r.measured.test_target_variance),
        num(r.measured.train_residual_max)
    );
    let _ = writeln!(
        s,
        "  ‖W_1‖_2 = {}, min_i ‖x_i‖_2 = {}; M₁ = {} (max |f| {}, max |y| {} on train ∪ test: an estimate)",
        num(r.w1_spectral_norm),
        num(r.min_x_norm_2),
        num(r.m1.value),
        num(r.m1.network_max_abs),
        num(r.m1.target_max_abs)
    );
    let _ = writeln!(
        s,
        "  M₂ = {} ({}: {})",
        num(r.m2.value),
        name(&r.m2.source),
        r.m2.how
    );
    let _ = writeln!(
        s,
        "  probes: {} random directions, {} ascent steps per point and radius (seed {}); C, K and the sensitivity are LOWER estimates",
        r.probes.random_directions, r.probes.ascent_steps, r.probes.seed
    );
    for what in &r.model_side.not_computed {
        let _ = writeln!(s, "  not computed: {what}");
    }
    let c = &r.covering;
    let _ = writeln!(
        s,
        "\ncovering (Def. 2/4) and scattering (Def. 3): test-to-training distance min {}, median {}, max {}; K over {} points ({})",
        num(c.nearest_distance_min),
        num(c.nearest_distance_median),
        num(c.nearest_distance_max),
        c.evaluation_points,
        name(&c.midpoints)
    );
    let _ = writeln!(
        s,
        "  {:>12} {:>8} {:>5} {:>12} {:>12} {:>14}",
        "δ", "ε₂", "K", "δ_approx", "sensitivity", "found by"
    );
    for (t, row) in c.rows.iter().enumerate() {
        let sens = r.sensitivity.get(t);
        let _ = writeln!(
            s,
            "  {:>12} {:>8.4} {:>5} {:>12} {:>12} {:>14}",
            num(row.delta),
            row.eps2,
            row.k_estimate,
            num(row.delta_approx),
            sens.map_or("-".to_string(), |x| num(x.measured)),
            sens.map_or("-".to_string(), |x| name(&x.found_by))
        );
    }
    for o in &r.orders {
        let b = &o.w1t_norm;
        let _ = writeln!(
            s,
            "\nk = {}: premise (order-{} stability at η, B): {}; S_k = (2nw/B)^(1/2k)·sqrt(2B/η) = {}; ‖W_1ᵀ‖_{} ∈ [{}, {}] (bounds use the upper end); min_i ‖x_i‖_{} = {}",
            o.k,
            o.k,
            o.premise_verdict.map_or("not checked".to_string(), |v| v.name().to_string()),
            num(o.stability_factor),
            2 * o.k,
            num(b.lower),
            num(b.upper),
            2 * o.k,
            num(o.min_x_norm_2k)
        );
        let _ = writeln!(
            s,
            "  {:>12} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}",
            "δ",
            "C",
            "smoothness",
            "target",
            "uncovered",
            "eq26 total",
            "eq27 bound",
            "measured",
            "ratio"
        );
        for row in &o.rows {
            let _ = writeln!(
                s,
                "  {:>12} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}",
                num(row.delta),
                num(row.c),
                num(row.eq26.smoothness_term),
                num(row.eq26.target_term),
                num(row.eq26.uncovered_term),
                num(row.eq26.total),
                num(row.eq27.bound),
                row.eq27.measured.map_or("-".to_string(), num),
                row.eq27.ratio.map_or("-".to_string(), num)
            );
        }
        let _ = writeln!(
            s,
            "  eq. (26): smallest bound {} at δ = {} against the measured test MSE {} (ratio {}); the δ → 0 limit is 4M₁²ε₂(0+) = {}, so inf over δ <= {}: {} the test target variance {}",
            num(o.eq26_min.total),
            num(o.eq26_min.delta),
            num(r.measured.test_mse),
            num(o.eq26_min.test_mse_over_bound),
            num(r.eq26_small_delta_limit),
            num(o.eq26_min.infimum_over_delta),
            if o.eq26_min.below_target_variance {
                "below"
            } else {
                "NOT below (uninformative)"
            },
            num(r.measured.test_target_variance)
        );
        let _ = writeln!(
            s,
            "  eq. (27): largest measured/bound ratio {}",
            o.eq27_max_ratio.map_or("not measured".to_string(), num)
        );
    }
    if r.findings.is_empty() {
        let _ = writeln!(
            s,
            "\nno finding: no measured value exceeds its bound where the premise holds"
        );
    } else {
        let _ = writeln!(s, "\nFINDINGS:");
        for f in &r.findings {
            let _ = writeln!(s, "  [{}] {}", f.check, f.message);
        }
    }
    s
}

mod erased {
    /// The serde (kebab-case) name of a unit enum value.
    pub trait Name {
        fn name(&self) -> String;
    }
    impl<T: serde::Serialize> Name for T {
        fn name(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        }
    }
}
