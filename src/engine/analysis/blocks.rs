//! The solvers of one reduced block `T_j^{(b)}` as `analyze` runs them (dense, matrix-free
//! Lanczos, the clustered `j = 2` enclosure, block Davidson for `j >= 3`), and the block verdict.

use super::*;

/// A block by the dense closed form and a full symmetric eigensolve.
pub(super) fn dense_block(
    red: &SpanReduction,
    j: usize,
    lr: f64,
    model: &BatchModel,
    opts: &AnalyzeOptions,
    budget: u128,
    want_cone: bool,
    hooks: Hooks,
) -> Result<Block> {
    let backend = opts.solver.eigensolver;
    let t = DenseMoment::build(red, j, lr, model, budget)?;
    hooks.checkpoint()?;
    let vals = symmetric_eigenvalues(&t.matrix, t.dim, backend)?;
    hooks.checkpoint()?;
    let err = t.build_error_bound() + eigensolver_error_bound(t.dim, t.frobenius);
    let summary = SpectrumSummary::from_sorted(&vals, err);
    let cone = if want_cone {
        let op = DenseSymmetric::new(&t.matrix, t.dim);
        cone_check(&op, red.rank, j, opts, DEFAULT_CONE_ITERATIONS_DENSE, hooks)?
    } else {
        None
    };
    // λ_max within rounding of 1 (a near-flat direction): decide the +1 side by inertia
    let inertia =
        if side_verdict(summary.lambda_max - 1.0, summary.error_bound) == Verdict::Marginal {
            let ec = EigenCoords::new(&red.coords, red.n, red.rank)?;
            Some(dense_certificate(&ec, j, lr, model, backend)?)
        } else {
            None
        };
    Ok(Block {
        summary,
        dim: t.dim,
        eigenvalues: Some(vals),
        cone,
        method: OperatorMethod::Dense,
        lanczos: None,
        inertia,
        enclosure: None,
        davidson: None,
        cone_skipped: None,
    })
}

/// Lanczos on `op`, polling the hooks at every product; the first product is timed and followed
/// by a time estimate for the block labelled `label` (at most `max_products` products).
fn checked_lanczos(
    op: &dyn SymmetricOperator,
    opts: &LanczosOptions,
    label: String,
    hooks: Hooks,
) -> Result<crate::engine::lanczos::LanczosResult> {
    let checked =
        Cancellable::with_estimate(op, hooks, label, opts.max_products, opts.max_products);
    let res = extreme_eigenvalues(&checked, opts);
    checked.finish()?;
    Ok(res)
}

/// A block by the matrix-free operator and Lanczos (`j = 1` exactly from the eigenvalues of `H`:
/// `spec T_1 = 1 − η spec H`).
pub(super) fn matrix_free_block(
    ec: &EigenCoords,
    j: usize,
    lr: f64,
    model: &BatchModel,
    opts: &AnalyzeOptions,
    want_cone: bool,
    hooks: Hooks,
) -> Result<Block> {
    let u = f64::EPSILON / 2.0;
    if j == 1 {
        let mut vals: Vec<f64> = ec.h_eigenvalues.iter().map(|l| 1.0 - lr * l).collect();
        vals.sort_by(f64::total_cmp);
        let hnorm = ec.h_eigenvalues.iter().map(|l| l * l).sum::<f64>().sqrt();
        let err = lr * eigensolver_error_bound(ec.r, hnorm) * 2.0 + u * (1.0 + lr * hnorm) * 4.0;
        return Ok(Block {
            summary: SpectrumSummary::from_sorted(&vals, err),
            dim: ec.r,
            eigenvalues: opts.full_spectrum.then_some(vals),
            cone: None,
            method: OperatorMethod::MatrixFree,
            lanczos: None,
            inertia: None,
            enclosure: None,
            davidson: None,
            cone_skipped: None,
        });
    }
    let op: Box<dyn SymmetricOperator> = if j == 2 {
        Box::new(SecondMoment::new(ec, lr, model)?)
    } else {
        Box::new(MatrixFreeMoment::new(ec, j, lr, model)?)
    };
    // Even j: T_j preserves the cone M_j^+, so by Krein–Rutman ρ(T_j) = λ_max(T_j) and only the
    // top end needs to converge (λ_min is then reported as its Ritz value, an upper bound).
    let lanczos = LanczosOptions {
        ends: if j % 2 == 0 {
            Ends::Largest
        } else {
            Ends::Both
        },
        ..opts.solver.lanczos
    };
    let label = crate::progress::block_message(j, ec.r, op.dim() as u128, "matrix-free");
    let res = checked_lanczos(op.as_ref(), &lanczos, label.clone(), hooks)?;
    let res = if j % 2 == 0 && res.lambda_min.abs() > res.lambda_max.abs() {
        // cannot happen in exact arithmetic (Krein–Rutman); converge both ends to be safe
        checked_lanczos(
            op.as_ref(),
            &LanczosOptions {
                ends: Ends::Both,
                ..lanczos
            },
            label,
            hooks,
        )?
    } else {
        res
    };
    let d = op.dim();
    let rounding = d as f64 * u * res.radius();
    let summary = SpectrumSummary {
        lambda_min: res.lambda_min,
        lambda_max: res.lambda_max,
        radius: res.radius(),
        error_bound: res.radius_error_bound() + rounding,
    };
    let cone = if want_cone {
        cone_check(
            op.as_ref(),
            ec.r,
            j,
            opts,
            DEFAULT_CONE_ITERATIONS_MATRIX_FREE,
            hooks,
        )?
    } else {
        None
    };
    // j = 2: λ_max(M(η)) = η λ_max(C⁺D)/2 − 1 (see crate::engine::inertia), from the well-conditioned pencil
    let inertia = if j == 2 {
        let th = second_order_threshold(ec, model, &opts.solver.lanczos, hooks)?;
        Some(InertiaCertificate::new(
            0.5 * lr * th.lambda_max - 1.0,
            0.5 * lr * th.lambda_max_error,
        ))
    } else {
        None
    };
    Ok(Block {
        summary,
        dim: d,
        eigenvalues: None,
        cone,
        inertia,
        enclosure: None,
        davidson: None,
        cone_skipped: None,
        method: OperatorMethod::MatrixFree,
        lanczos: Some(LanczosReport {
            products: res.products,
            restarts: res.restarts,
            termination: res.termination,
            residual_min: res.residual_min,
            residual_max: res.residual_max,
        }),
    })
}

/// A `j = 2` block by the clustered solver ([`crate::engine::clustered`]): `λ_max` is the midpoint
/// of the certified enclosure and `error_bound` its width; `λ_min` is the smallest diagonal entry
/// of `T_2` (a Rayleigh quotient, `>= λ_min`; the enclosure's `lambda_min_lower` is `min Δ`), and
/// `ρ = λ_max` by Krein–Rutman. The cone check is skipped (with the reason) unless its iteration
/// limit was given explicitly; the pencil's inertia certificate is computed only when the
/// enclosure does not decide the `+1` side.
pub(super) fn clustered_block(
    ec: &EigenCoords,
    lr: f64,
    model: &BatchModel,
    opts: &AnalyzeOptions,
    want_cone: bool,
    hooks: Hooks,
) -> Result<Block> {
    let enc = enclose_top(ec, lr, model, &ClusteredOptions::default(), hooks)?;
    let mid = 0.5 * (enc.lower + enc.upper);
    let summary = SpectrumSummary {
        lambda_min: enc.lambda_min_upper,
        lambda_max: mid,
        radius: mid.abs().max(enc.lambda_min_upper.abs()),
        error_bound: enc.width,
    };
    let (cone, cone_skipped) = match (want_cone, opts.cone.max_iterations) {
        (false, _) | (true, Some(0)) => (None, None),
        (true, None) => (
            None,
            Some(format!(
                "ρ(T_2) = λ_max (Krein–Rutman) is certified by the clustered solver: [{:.17e}, {:.17e}]; the cone power iteration cannot converge on a clustered top (give a cone iteration limit to run it)",
                enc.lower, enc.upper
            )),
        ),
        (true, Some(_)) => {
            let op = SecondMoment::new(ec, lr, model)?;
            (
                cone_check(
                    &op,
                    ec.r,
                    2,
                    opts,
                    DEFAULT_CONE_ITERATIONS_MATRIX_FREE,
                    hooks,
                )?,
                None,
            )
        }
    };
    let inertia = if side_verdict(mid - 1.0, enc.width) == Verdict::Marginal {
        let th = second_order_threshold(ec, model, &opts.solver.lanczos, hooks)?;
        Some(InertiaCertificate::new(
            0.5 * lr * th.lambda_max - 1.0,
            0.5 * lr * th.lambda_max_error,
        ))
    } else {
        None
    };
    Ok(Block {
        summary,
        dim: ec.r * (ec.r + 1) / 2,
        eigenvalues: None,
        cone,
        inertia,
        enclosure: Some(enc),
        davidson: None,
        cone_skipped,
        method: OperatorMethod::Clustered,
        lanczos: None,
    })
}

/// A block `j >= 3` by the matrix-free operator and block Davidson with the diagonal
/// preconditioner ([`crate::engine::davidson`]): both ends for odd `j`, the top for even `j`
/// (`ρ = λ_max` by Krein–Rutman). `λ_max` (and for odd `j` `λ_min`) are Rayleigh quotients of the
/// exact operator, so `λ_max − rounding` is a certified lower bound (and `λ_min + rounding` a
/// certified upper bound); `error_bound` is the residual of the Ritz pair attaining the radius
/// plus the rounding: an error estimate, not an enclosure. The cone check is skipped (with the
/// reason) unless its iteration limit was given explicitly.
pub(super) fn davidson_block(
    ec: &EigenCoords,
    j: usize,
    lr: f64,
    model: &BatchModel,
    opts: &AnalyzeOptions,
    want_cone: bool,
    hooks: Hooks,
) -> Result<Block> {
    let u = f64::EPSILON / 2.0;
    let op = MatrixFreeMoment::new(ec, j, lr, model)?;
    hooks.checkpoint()?;
    let (diag, exact_diagonal) = op.diagonal();
    hooks.checkpoint()?;
    let d = op.dim();
    // rounding of one product (γ_m N) and the model error of the eigen-rotated coordinates
    let magnitude = op.magnitude();
    let m = op.accumulation_depth() as f64;
    let op_error =
        m * u / (1.0 - m * u) * magnitude + 16.0 * (ec.n + ec.r) as f64 * j as f64 * u * magnitude;
    let ends = if j % 2 == 0 {
        Ends::Largest
    } else {
        Ends::Both
    };
    let dopts = opts.solver.davidson;
    let n_ends = if j % 2 == 0 { 1 } else { 2 };
    let label = SolveLabel {
        label: crate::progress::block_message(j, ec.r, d as u128, "davidson"),
        expected_products: n_ends * (8 * dopts.block + 4),
    };
    let res = davidson_solve(&op, &diag, ends, &dopts, op_error, &label, hooks)?;
    drop(diag);
    let radius = res.lambda_min.abs().max(res.lambda_max.abs());
    let residual = if j % 2 == 0 || res.lambda_max.abs() > res.lambda_min.abs() {
        res.residual_max
    } else if res.lambda_min.abs() > res.lambda_max.abs() {
        res.residual_min
    } else {
        res.residual_max.max(res.residual_min)
    };
    let summary = SpectrumSummary {
        lambda_min: res.lambda_min,
        lambda_max: res.lambda_max,
        radius,
        error_bound: residual + res.rounding,
    };
    let (cone, cone_skipped) = match (want_cone, opts.cone.max_iterations) {
        (false, _) | (true, Some(0)) => (None, None),
        (true, None) => (
            None,
            Some(format!(
                "ρ(T_{j}) = λ_max (Krein–Rutman) >= {:.17e} (a certified Rayleigh lower bound; block Davidson); the cone power iteration cannot converge on a clustered top (give a cone iteration limit to run it)",
                res.lambda_max_lower
            )),
        ),
        (true, Some(_)) => (
            cone_check(
                &op,
                ec.r,
                j,
                opts,
                DEFAULT_CONE_ITERATIONS_MATRIX_FREE,
                hooks,
            )?,
            None,
        ),
    };
    let report = DavidsonReport {
        certified: if j % 2 == 0 {
            "lambda_max >= lambda_max_lower"
        } else {
            "lambda_max >= lambda_max_lower, lambda_min <= lambda_min_upper"
        },
        lambda_max_lower: res.lambda_max_lower,
        lambda_min_upper: res.lambda_min_upper,
        rounding: res.rounding,
        residual_max: res.residual_max,
        residual_min: res.residual_min,
        exact_diagonal,
        products: res.products,
        iterations: res.iterations,
        restarts: res.restarts,
        termination: res.termination,
    };
    Ok(Block {
        summary,
        dim: d,
        eigenvalues: None,
        cone,
        method: OperatorMethod::Davidson,
        lanczos: None,
        inertia: None,
        enclosure: None,
        davidson: Some(report),
        cone_skipped,
    })
}

/// The verdict of one side: `excess = λ_max − 1` or `−1 − λ_min`.
pub(super) fn side_verdict(excess: f64, error_bound: f64) -> Verdict {
    if excess > error_bound {
        Verdict::Unstable
    } else if excess < -error_bound {
        Verdict::Stable
    } else {
        Verdict::Marginal
    }
}

/// The verdict of block `j`: the `+1` side from `λ_max − 1`, or from the inertia certificate when
/// that is within rounding; the `−1` side from `−1 − λ_min` — for even `j` the `+1` side decides
/// alone, since `T_j` preserves the cone `M_j^+` and so `λ_min >= −ρ = −λ_max` (Krein–Rutman).
pub(super) fn block_verdict(j: usize, b: &Block) -> Verdict {
    let err = b.summary.error_bound;
    let plus = match &b.inertia {
        Some(c) if c.verdict != Verdict::Marginal => c.verdict,
        _ => side_verdict(b.summary.lambda_max - 1.0, err),
    };
    if j % 2 == 0 {
        return plus;
    }
    let minus = side_verdict(-1.0 - b.summary.lambda_min, err);
    Verdict::combine([plus, minus])
}
