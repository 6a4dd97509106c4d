//! Human-readable tables.

use crate::engine::analysis::AnalysisReport;
use std::fmt::Write;

/// A number in a fixed-width cell: plain decimals for moderate values, scientific otherwise.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&a) {
        format!("{x:.6}")
    } else {
        format!("{x:.4e}")
    }
}

/// The `analyze` report as text.
pub fn analysis(r: &AnalysisReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab analyze{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "  samples n = {}, parameters w = {}, rank r = {} (relative tolerance {:.2e}, {})",
        r.n,
        r.w,
        r.rank,
        r.rank_tolerance,
        serde_json::to_value(r.reduction)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "  learning rate η = {}, batch B = {}, sampling {}, eigensolver {}",
        r.lr, r.batch, r.sampling, r.eigensolver
    );
    let _ = writeln!(
        s,
        "  sharpness λmax(H) = {}  (GD threshold 2/λmax = {}), flatness Tr H = {}",
        num(r.sharpness),
        if r.sharpness > 0.0 {
            num(2.0 / r.sharpness)
        } else {
            "∞".into()
        },
        num(r.flatness)
    );
    let _ = writeln!(
        s,
        "\nProp. 1 (sufficient for 2nd order): q = λmax E[MᵀM] = {} ± {:.1e} → {}",
        num(r.prop1.value),
        r.prop1.error_bound,
        if r.prop1.stable {
            "holds (2nd-order stable)"
        } else {
            "does not hold (inconclusive)"
        }
    );
    let _ = writeln!(s, "\nTheorem 1 (k-th order linear stability):");
    let _ = writeln!(
        s,
        "  {:>2}  {:>12}  {:>12}  {:>9}  {:>10}  {:>12}",
        "k", "ρ_k (full)", "ρ reduced", "± bound", "verdict", "cone ratio"
    );
    for o in &r.orders {
        let cone = match (&o.cone, o.cone.as_ref().and_then(|c| c.ratio)) {
            (Some(c), Some(ratio)) => format!(
                "{} ({} it, {})",
                num(ratio),
                c.iterations,
                match c.termination {
                    crate::engine::stability::Termination::Converged => "converged",
                    crate::engine::stability::Termination::MaxIterations => "NOT converged",
                    crate::engine::stability::Termination::ZeroIterate => "zero",
                    crate::engine::stability::Termination::Skipped => "skipped",
                }
            ),
            (Some(_), None) => "skipped (radius certified)".into(),
            (None, _) => "-".into(),
        };
        let _ = writeln!(
            s,
            "  {:>2}  {:>12}  {:>12}  {:>9.1e}  {:>10}  {}",
            o.k,
            num(o.spectral_radius),
            num(o.reduced_radius),
            o.error_bound,
            o.verdict.name(),
            cone
        );
    }
    let _ = writeln!(
        s,
        "\n  blocks (spectrum of T_k on Sym^k(R^w) = ⋃_j spec T_j on Sym^j(R^r)):"
    );
    for o in &r.orders {
        let parts: Vec<String> = o
            .blocks
            .iter()
            .map(|b| {
                let how = match (&b.lanczos, b.method, &b.enclosure) {
                    (_, _, Some(e)) => format!(
                        " [clustered, λ_max ∈ [{}, {}], {} products]",
                        num(e.lower),
                        num(e.upper),
                        e.products
                    ),
                    (_, _, None) if b.davidson.is_some() => {
                        let d = b
                            .davidson
                            .as_ref()
                            .map_or((0.0, 0), |d| (d.lambda_max_lower, d.products));
                        format!(
                            " [davidson, λ_max ≥ {} certified, {} products]",
                            num(d.0),
                            d.1
                        )
                    }
                    (Some(l), _, _) => format!(" [matrix-free, {} products]", l.products),
                    (None, crate::engine::analysis::OperatorMethod::MatrixFree, _) => {
                        " [matrix-free]".into()
                    }
                    _ => String::new(),
                };
                format!("j={}: ρ={} ×{}{how}", b.j, num(b.radius), b.multiplicity)
            })
            .collect();
        let _ = writeln!(s, "  k={}: {}", o.k, parts.join("; "));
    }
    let _ = writeln!(s, "\nMoment bounds (original coordinates):");
    let _ = writeln!(
        s,
        "  {:>2}  {:>12}  {:>12}  {:>9}  {:>5}  {:>12}  {:>12}  {:>9}  {:>5}",
        "k", "Thm2 max m_j", "bound", "ratio", "holds", "Cor1 lhs", "rhs", "ratio", "holds"
    );
    for o in &r.orders {
        let _ = writeln!(
            s,
            "  {:>2}  {:>12}  {:>12}  {:>9}  {:>5}  {:>12}  {:>12}  {:>9}  {:>5}",
            o.k,
            num(o.theorem2.max_moment),
            num(o.theorem2.bound),
            num(o.theorem2.ratio),
            if o.theorem2.holds { "yes" } else { "NO" },
            num(o.corollary1.lhs),
            num(o.corollary1.rhs),
            num(o.corollary1.ratio),
            if o.corollary1.holds { "yes" } else { "NO" },
        );
    }
    if r.consistency.ok {
        let _ = writeln!(
            s,
            "\nConsistency: every implication checked holds on this input."
        );
    } else {
        let _ = writeln!(s, "\nConsistency FINDINGS (counterexample or bug):");
        for f in &r.consistency.findings {
            let _ = writeln!(s, "  [{}] k={}: {}", f.check, f.k, f.message);
        }
    }
    s
}
