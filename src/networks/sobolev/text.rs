//! The `sobolev` report as text.

use super::{Outcome, SobolevReport};

/// The report as text.
pub fn text(r: &SobolevReport) -> String {
    use crate::report::text::num;
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sgdstab sobolev{}",
        r.input
            .as_deref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default()
    );
    let fl = &r.first_layer;
    let layer = match (r.m, fl.kind) {
        (Some(m), _) => format!("W_1 is {m} × {}", r.d),
        (None, kind) => format!(
            "first layer: {kind}{}{}",
            fl.name
                .as_deref()
                .map(|n| format!(" '{n}'"))
                .unwrap_or_default(),
            fl.shape
                .as_deref()
                .map(|s| format!(" {}", crate::io::npy::shape_string(s)))
                .unwrap_or_default()
        ),
    };
    let _ = writeln!(
        s,
        "  n = {}, d = {}, w = {}, {layer}; training η = {}, B = {}",
        r.n, r.d, r.w, r.lr, r.batch
    );
    let norm = match (&r.w1_spectral_norm, &fl.operator_norm) {
        (Some(v), _) => format!(", ‖W_1‖_2 = {}", num(*v)),
        (None, Some(b)) if b.lower == b.upper => {
            format!(
                ", operator norm of the first layer = {} ({})",
                num(b.upper),
                b.upper_method
            )
        }
        (None, Some(b)) => format!(
            ", operator norm of the first layer ∈ [{}, {}] ({}, {})",
            num(b.lower),
            num(b.upper),
            b.lower_method,
            b.upper_method
        ),
        (None, None) => String::new(),
    };
    let _ = writeln!(
        s,
        "  eq. (5): g_W = {}, g_x = {}{norm}",
        num(r.g_w),
        num(r.g_x),
    );
    if let Some(reason) = &fl.reason {
        let _ = writeln!(
            s,
            "  Prop. 2, Corollary 2, Theorem 3: not applicable: {reason}"
        );
    }
    let name = |o: Outcome| match o {
        Outcome::Holds => "holds",
        Outcome::Fails => "FAILS",
        Outcome::Undecided => "undecided",
    };
    let method = |v: &dyn erased_name::Name| v.name();
    for o in &r.orders {
        let (Some(b), Some(prop2), Some(c2), Some(t)) =
            (&o.w1t_norm, &o.prop2, &o.corollary2, &o.theorem3)
        else {
            let _ = writeln!(
                s,
                "\nk = {} (p = {}): seminorm |f|_(1,{},{{x_i}}) = {}   ((1/n) Σ ‖a_i‖_{}^{})^(1/{}) = {}",
                o.k,
                o.p,
                o.p,
                num(o.seminorm),
                o.p,
                o.p,
                o.p,
                num(o.param_moment)
            );
            continue;
        };
        let _ = writeln!(
            s,
            "\nk = {} (p = {}): ‖W_1ᵀ‖_{} ∈ [{}, {}] (lower: {}, upper: {})",
            o.k,
            o.p,
            o.p,
            num(b.lower),
            num(b.upper),
            method(&b.lower_method),
            method(&b.upper_method),
        );
        let _ = writeln!(
            s,
            "  Prop. 2 at the {} training points: {} hold (lower bracket), {} fail, {} undecided; max ratio {}",
            r.n,
            prop2.holds,
            prop2.fails,
            prop2.undecided,
            num(prop2.max_ratio)
        );
        let _ = writeln!(
            s,
            "  seminorm |f|_(1,{},{{x_i}}) = {}   min ‖x_i‖_{} = {}",
            o.p,
            num(o.seminorm),
            o.p,
            num(o.min_x_norm)
        );
        let _ = writeln!(
            s,
            "  Corollary 2: <= {} (upper bracket; {} with the lower)  ratio {}  {}",
            num(c2.rhs_upper),
            num(c2.rhs_lower),
            num(c2.ratio),
            name(c2.outcome)
        );
        let _ = writeln!(
            s,
            "  Theorem 3:   <= {} (upper bracket; {} with the lower)  ratio {}  {}   premise: order {} {}",
            num(t.check.rhs_upper),
            num(t.check.rhs_lower),
            num(t.check.ratio),
            name(t.check.outcome),
            o.k,
            t.premise_verdict.map_or("not computed", |v| v.name())
        );
    }
    if r.ok {
        let _ = writeln!(s, "\nNo failed check.");
    } else {
        let _ = writeln!(s, "\nFINDINGS (counterexample or bug):");
        for f in &r.findings {
            let _ = writeln!(s, "  [{}] k={}: {}", f.check, f.k, f.message);
        }
    }
    s
}

mod erased_name {
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
