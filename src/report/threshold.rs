//! Text tables of the `threshold`, `diagram` and `verify` reports.

use super::text::num;
use crate::threshold::diagram::DiagramReport;
use crate::threshold::{Interval, ThresholdReport};
use std::fmt::Write;

fn opt(x: Option<f64>) -> String {
    x.map_or("∞".to_string(), num)
}

/// `[lo, hi] ∪ …` with `∞` for an unbounded end.
pub fn intervals(set: &[Interval]) -> String {
    if set.is_empty() {
        return "∅".into();
    }
    set.iter()
        .map(|iv| format!("[{}, {}]", num(iv.lo), opt(iv.hi)))
        .collect::<Vec<_>>()
        .join(" ∪ ")
}

/// The `diagram` table as text: per order, `η*_k(B)` for every batch size, with the Theorem 2
/// limit.
pub fn diagram(r: &DiagramReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab diagram{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "  n = {}, w = {}, rank r = {}, sampling {}; {} orders × {} batch sizes",
        r.n,
        r.w,
        r.rank,
        r.sampling,
        r.orders.len(),
        r.batches.len()
    );
    let _ = writeln!(
        s,
        "
   k      B        η*_k(B)    ± error   method         Thm 2 limit   Cor 1 limit"
    );
    for row in &r.rows {
        let _ = writeln!(
            s,
            "  {:>2}  {:>5}  {:>13}  {:>9}   {:<13} {:>12}  {:>12}",
            row.k,
            row.batch,
            opt(row.lr_threshold),
            row.lr_threshold_error
                .map_or("-".to_string(), |e| format!("{e:.1e}")),
            row.method.name(),
            opt(row.theorem2_limit),
            opt(row.corollary1_limit)
        );
    }
    s
}

/// The `threshold` report as text.
pub fn threshold(r: &ThresholdReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab threshold{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "  n = {}, w = {}, rank r = {}, batch B = {}, sampling {}, eigensolver {}",
        r.n, r.w, r.rank, r.batch, r.sampling, r.eigensolver
    );
    let _ = writeln!(
        s,
        "  sharpness λ_max(H) = {}, gradient-descent threshold 2/λ_max(H) = {}",
        num(r.sharpness),
        opt(r.gd_threshold)
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "   k        η*_k      ± error   method          Thm 2 limit  η*/limit   Cor 1 limit  η*/limit"
    );
    for o in &r.orders {
        let ratio = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
        let _ = writeln!(
            s,
            "  {:>2}  {:>12}  {:>9}   {:<14} {:>12}  {:>8}  {:>12}  {:>8}",
            o.set.k,
            opt(o.set.lr_threshold),
            o.set
                .lr_threshold_error
                .map_or("-".to_string(), |e| format!("{e:.1e}")),
            o.set.method.name(),
            opt(o.theorem2.lr_limit),
            ratio(o.theorem2.threshold_over_limit),
            opt(o.corollary1.lr_limit),
            ratio(o.corollary1.threshold_over_limit),
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Stable learning rates S_k = {{η > 0 : spec T_k(η) ⊂ [−1, 1]}}:"
    );
    for o in &r.orders {
        let _ = writeln!(
            s,
            "  k={}: {}{}",
            o.set.k,
            intervals(&o.set.stable_set),
            if o.set.stable_set_complete {
                ""
            } else {
                "  (first interval only)"
            }
        );
        for b in &o.set.boundaries {
            let _ = writeln!(
                s,
                "        boundary {} ± {:.1e}  ({} end, block j={}, crossing {}{})",
                num(b.lr),
                b.error,
                match b.end {
                    crate::threshold::IntervalEnd::Lower => "lower",
                    crate::threshold::IntervalEnd::Upper => "upper",
                },
                b.block,
                match b.crossing {
                    Some(crate::threshold::Crossing::PlusOne) => "+1",
                    Some(crate::threshold::Crossing::MinusOne) => "-1",
                    None => "?",
                },
                if b.verified {
                    ""
                } else {
                    ", bracket not verified"
                }
            );
        }
    }
    let mut mm = r
        .orders
        .iter()
        .filter_map(|o| o.mulayoff_michaeli.as_ref())
        .peekable();
    if mm.peek().is_some() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Necessary bounds on η*_2 (Mulayoff & Michaeli):");
        for m in mm {
            let _ = writeln!(
                s,
                "  trace bound {} (η*_2/bound {}), top-eigenvector bound {} (η*_2/bound {})",
                num(m.bounds.trace_bound),
                m.threshold_over_trace_bound
                    .map_or("-".into(), |v| format!("{v:.6}")),
                num(m.bounds.top_eigenvector_bound),
                m.threshold_over_top_eigenvector_bound
                    .map_or("-".into(), |v| format!("{v:.6}")),
            );
        }
    }
    s
}

/// The `verify` report as text: one row per check, then the counterexamples.
pub fn verify(r: &crate::verify::VerifyReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab verify: {} cases from seed {} × {} sampling scheme(s), orders {:?}",
        r.cases,
        r.seed,
        r.samplings.len(),
        r.orders
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "  {:<28} {:>9} {:>7}   {:>16}  {:>20}",
        "check", "evaluated", "failed", "tightest ratio", "at seed"
    );
    for c in &r.checks {
        let _ = writeln!(
            s,
            "  {:<28} {:>9} {:>7}   {:>16}  {:>20}",
            c.check,
            c.evaluated,
            c.failed,
            c.tightest_ratio
                .map_or("-".to_string(), |v| format!("{v:.10}")),
            c.tightest_seed.map_or("-".to_string(), |v| v.to_string()),
        );
    }
    let _ = writeln!(s);
    if r.counterexamples.is_empty() {
        let _ = writeln!(s, "no counterexample");
    } else {
        let _ = writeln!(s, "{} counterexample(s):", r.counterexamples.len());
        for c in &r.counterexamples {
            let _ = writeln!(
                s,
                "  [{}] seed {} ({}; {}): {}\n      reproduce: sgdstab verify --cases 1 --seed {} --orders {} --sampling {}",
                c.check,
                c.seed,
                r.inputs.get(&c.seed).map_or("", |x| x.as_str()),
                c.sampling,
                c.message,
                c.seed,
                r.orders
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                match c.sampling {
                    crate::Sampling::WithoutReplacement => "without",
                    crate::Sampling::WithReplacement => "with",
                }
            );
        }
    }
    s
}
