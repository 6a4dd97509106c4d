//! `verify`: property-based checking of every implication the paper and DESIGN §11 state, on
//! random gradient sets, learning rates on both sides of `η*_k`, and batch sizes.
//!
//! Case `i` of a run with seed `S` uses the seed `S + i` (wrapping), so
//! `sgdstab verify --cases 1 --seed S+i` reproduces it alone. Per case and sampling scheme:
//! a [`GradientSpec`] (`n ∈ 2..=7`, `w ∈ 1..=5`, rank, scale `10^[−2, 2]`, heavy tails,
//! near-duplicate rows), a batch size `B ∈ 1..=n`, the stable sets `S_k` of the requested orders,
//! and learning rates `η = f·η*_k` for `f ∈ {0.5, 0.9, 0.99, 1.01, 1.1, 2}`.
//!
//! The checks ([`CHECKS`]), each with the ratio whose largest value is reported as the tightest
//! (a ratio above 1 beyond the tolerance is a counterexample):
//!
//! | check | statement | ratio |
//! |---|---|---|
//! | `eta1=2/lambda_max` | `η*_1 = 2/λ_max(H)` (H from `A` with nalgebra) | `|η*_1 λ/2 − 1| / 1e-12` |
//! | `eta2=mulayoff-michaeli` | `η*_2 = 2/λ_max(C⁺D)`, `C`, `D` explicit Kronecker products on `R^{w²}` | `|η*_2/MM − 1| / 1e-9` |
//! | `stable=>theorem2` | `η*_k <=` the Theorem 2 implied limit | `(η*_k − err)/limit` |
//! | `stable=>corollary1` | `η*_k <=` the Corollary 1 implied limit | `(η*_k − err)/limit` |
//! | `theorem2=>corollary1` | at every drawn `η`: Theorem 2 holds ⇒ Corollary 1 holds | Cor. 1 ratio where Thm 2 holds |
//! | `prop1=>order2` | `ρ(T_2) <= q` and `ρ(T_1)² <= q` (so `q <= 1` ⇒ order 2 stable) | `ρ_2 / q` |
//! | `stable-set=spectrum` | at every drawn `η` not within error of a boundary, `analyze`'s verdict agrees with `η ∈ S_k` | `ρ_k` at drawn `η ∈ S_k` |
//! | `eta2-monotone-in-B` | without replacement: `η*_2(B) <= η*_2(B + 1)` | `η*_2(B)/η*_2(B+1)` |
//! | `mm-necessary-bounds` | `η*_2 <=` trace bound and `<=` top-eigenvector bound | `η*_2 / bound` |
//! | `even-k:eta_k<=eta_1` | even `k`: `η*_k <= η*_1` (`ρ_k >= ρ_1^k` by Jensen on the cone) | `η*_k / η*_1` |
//! | `even-k:radius=lambda_max` | even `k`: `ρ(T_k^{(b)}) = λ_max` (Perron root of the cone-preserving `T_k`, DESIGN §5) | `−λ_min / λ_max` |
//! | `closed-form=brute-force` | `T_k` (closed form) = enumeration of all batches, where at most 3000 batches, `r <= 3`, `k <= 3` | `max |ΔT| / (1e-11 ‖T‖_F)` |

pub mod brute;
pub mod generate;
#[cfg(feature = "proptest-support")]
pub mod strategies;

pub use generate::{generate, GradientSpec, SplitMix};

use crate::engine::analysis::AnalyzeOptions;
use crate::engine::gradients::Gradients;
use crate::engine::moment_operator::DenseMoment;
use crate::engine::reduction::SpanReduction;
use crate::engine::sampling::{BatchModel, Sampling};
use crate::engine::stability::Verdict;
use crate::error::{Error, Param, Result};
use crate::problem::{Problem, ProblemOptions};
use crate::progress::{Hooks, Progress};
use crate::threshold::{
    corollary1_lr_limit, mulayoff_michaeli_bounds, theorem2_lr_limit, OrderStableSet,
    ThresholdOptions, ThresholdSolver,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the `verify` JSON schema.
pub const VERIFY_SCHEMA_VERSION: u32 = 1;

/// The checks, in report order.
pub const CHECKS: [&str; 12] = [
    "eta1=2/lambda_max",
    "eta2=mulayoff-michaeli",
    "stable=>theorem2",
    "stable=>corollary1",
    "theorem2=>corollary1",
    "prop1=>order2",
    "stable-set=spectrum",
    "eta2-monotone-in-B",
    "mm-necessary-bounds",
    "even-k:eta_k<=eta_1",
    "even-k:radius=lambda_max",
    "closed-form=brute-force",
];

/// Learning-rate factors (times `η*_k`) tried per order.
pub const LR_FACTORS: [f64; 6] = [0.5, 0.9, 0.99, 1.01, 1.1, 2.0];

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOptions {
    /// Number of cases.
    pub cases: usize,
    /// Seed of case 0 (case `i` uses `seed + i`).
    pub seed: u64,
    /// Orders.
    pub orders: Vec<usize>,
    /// Sampling schemes to run every case under.
    pub samplings: Vec<Sampling>,
}

/// Totals of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSummary {
    /// The check's name (see [`CHECKS`]).
    pub check: &'static str,
    /// How many times it was evaluated.
    pub evaluated: usize,
    /// How many of those failed.
    pub failed: usize,
    /// The largest ratio seen (see the module table; `null` if never evaluated).
    pub tightest_ratio: Option<f64>,
    /// The case seed where the tightest ratio was seen.
    pub tightest_seed: Option<u64>,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterexample {
    /// The check.
    pub check: &'static str,
    /// The case seed: `sgdstab verify --cases 1 --seed SEED` reproduces it.
    pub seed: u64,
    /// The sampling scheme.
    pub sampling: Sampling,
    /// What failed, with the numbers.
    pub message: String,
}

/// The `verify` report (`schema_version` [`VERIFY_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"verify"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// Seed of case 0.
    pub seed: u64,
    /// Number of cases.
    pub cases: usize,
    /// Orders checked.
    pub orders: Vec<usize>,
    /// Sampling schemes.
    pub samplings: Vec<Sampling>,
    /// One summary per check, in [`CHECKS`] order.
    pub checks: Vec<CheckSummary>,
    /// Every failure.
    pub counterexamples: Vec<Counterexample>,
    /// Per case seed: the input drawn (`n`, `w`, `r`, `B`), for the table.
    pub inputs: BTreeMap<u64, String>,
}

struct Recorder {
    summaries: BTreeMap<&'static str, CheckSummary>,
    counterexamples: Vec<Counterexample>,
}

impl Recorder {
    fn record(
        &mut self,
        check: &'static str,
        seed: u64,
        sampling: Sampling,
        ratio: f64,
        ok: bool,
        message: impl FnOnce() -> String,
    ) {
        let s = self.summaries.entry(check).or_insert(CheckSummary {
            check,
            evaluated: 0,
            failed: 0,
            tightest_ratio: None,
            tightest_seed: None,
        });
        s.evaluated += 1;
        if ratio.is_finite() && s.tightest_ratio.is_none_or(|t| ratio > t) {
            s.tightest_ratio = Some(ratio);
            s.tightest_seed = Some(seed);
        }
        if !ok {
            s.failed += 1;
            self.counterexamples.push(Counterexample {
                check,
                seed,
                sampling,
                message: message(),
            });
        }
    }
}

/// `λ_max(AᵀA/n)` with nalgebra, from the original gradients (independent of the reduction).
fn sharpness_nalgebra(g: &Gradients) -> f64 {
    let a = nalgebra::DMatrix::from_row_slice(g.n(), g.w(), g.as_slice());
    let h = a.transpose() * &a / g.n() as f64;
    h.symmetric_eigenvalues().max()
}

/// Mulayoff & Michaeli's `2 / λ_max(C⁺D)` with `C = ½(H⊗I + I⊗H)` and
/// `D = (1−p) H⊗H + (p/n) Σ H_i⊗H_i` built as explicit Kronecker products on `R^{w²}`
/// (nalgebra), `λ_max(C⁺D) = λ_max(C^{+½} D C^{+½})` (`C ⪰ 0`, eigenvalues below
/// `1e-12 λ_max(C)` treated as 0). `None` when `H = 0`.
pub fn mulayoff_michaeli_threshold(g: &Gradients, model: &BatchModel) -> Option<f64> {
    let (n, w) = (g.n(), g.w());
    let a = nalgebra::DMatrix::from_row_slice(n, w, g.as_slice());
    let h = a.transpose() * &a / n as f64;
    let id = nalgebra::DMatrix::<f64>::identity(w, w);
    let c = (h.kronecker(&id) + id.kronecker(&h)) * 0.5;
    let p = model.prop1_weight();
    let mut d = h.kronecker(&h) * (1.0 - p);
    for i in 0..n {
        let ai = nalgebra::DVector::from_row_slice(g.row(i));
        let hi = &ai * ai.transpose();
        d += hi.kronecker(&hi) * (p / n as f64);
    }
    let eig = c.symmetric_eigen();
    let cmax = eig.eigenvalues.max();
    if cmax <= 0.0 {
        return None;
    }
    let inv_sqrt = eig.eigenvalues.map(|l| {
        if l > 1e-12 * cmax {
            1.0 / l.sqrt()
        } else {
            0.0
        }
    });
    let s = &eig.eigenvectors
        * nalgebra::DMatrix::from_diagonal(&inv_sqrt)
        * eig.eigenvectors.transpose();
    let m = &s * d * &s;
    let m = (&m + m.transpose()) * 0.5;
    let top = m.symmetric_eigenvalues().max();
    (top > 0.0).then(|| 2.0 / top)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// The largest rank a drawn case can have (`w <= 5`).
pub const MAX_DRAWN_RANK: usize = 5;

/// Runs `verify`.
pub fn verify(opts: &VerifyOptions, progress: &dyn Progress) -> Result<VerifyReport> {
    crate::engine::analysis::check_orders(&opts.orders)?;
    // the cases draw up to r = 5: every order must fit the dense limit and the memory budget
    // there, since each case solves every block densely (estimate and refuse, not hours)
    let budget = crate::memory::default_budget_bytes();
    for &k in &opts.orders {
        let d = crate::engine::combinatorics::sym_dim(MAX_DRAWN_RANK, k).unwrap_or(u128::MAX);
        let need = crate::memory::polynomial_block(MAX_DRAWN_RANK, k);
        if d > crate::engine::DEFAULT_MAX_DENSE_DIM as u128 || need > budget {
            return Err(Error::parameter(
                Param::Orders,
                k,
                format!(
                    "cases draw up to r = {MAX_DRAWN_RANK}, where T_{k} has D = {d} (the dense limit is {}) and its stable-set polynomial needs {}; choose orders up to {}",
                    crate::engine::DEFAULT_MAX_DENSE_DIM,
                    crate::error::human_bytes(need),
                    (1..=crate::engine::analysis::MAX_ORDER)
                        .take_while(|&k| {
                            crate::engine::combinatorics::sym_dim(MAX_DRAWN_RANK, k)
                                .is_some_and(|d| d <= crate::engine::DEFAULT_MAX_DENSE_DIM as u128)
                        })
                        .last()
                        .unwrap_or(1)
                ),
            ));
        }
    }
    let mut ks = opts.orders.clone();
    ks.sort_unstable();
    ks.dedup();
    let mut rec = Recorder {
        summaries: BTreeMap::new(),
        counterexamples: Vec::new(),
    };
    let mut inputs = BTreeMap::new();
    progress.begin("verify", (opts.cases * opts.samplings.len()) as u64);
    for i in 0..opts.cases {
        let seed = opts.seed.wrapping_add(i as u64);
        for &sampling in &opts.samplings {
            let desc = run_case(seed, sampling, &ks, &mut rec)?;
            inputs.insert(seed, desc);
            progress.advance(1, "");
        }
    }
    progress.end();
    let checks = CHECKS
        .iter()
        .map(|&c| {
            rec.summaries.remove(c).unwrap_or(CheckSummary {
                check: c,
                evaluated: 0,
                failed: 0,
                tightest_ratio: None,
                tightest_seed: None,
            })
        })
        .collect();
    Ok(VerifyReport {
        schema_version: VERIFY_SCHEMA_VERSION,
        command: "verify",
        tool_version: env!("CARGO_PKG_VERSION"),
        seed: opts.seed,
        cases: opts.cases,
        orders: ks,
        samplings: opts.samplings.clone(),
        checks,
        counterexamples: rec.counterexamples,
        inputs,
    })
}

fn stable_sets<'a>(
    red: &'a SpanReduction,
    model: BatchModel,
    ks: &[usize],
) -> Result<(ThresholdSolver<'a>, Vec<OrderStableSet>)> {
    let max_k = *ks.last().unwrap_or(&1);
    let solver = ThresholdSolver::new(
        red,
        model,
        max_k,
        ks,
        &ThresholdOptions::default(),
        Hooks::none(),
    )?;
    let sets = ks
        .iter()
        .map(|&k| solver.order(k))
        .collect::<Result<Vec<_>>>()?;
    Ok((solver, sets))
}

fn run_case(seed: u64, sampling: Sampling, ks: &[usize], rec: &mut Recorder) -> Result<String> {
    let mut rng = SplitMix::new(seed);
    let spec = GradientSpec::draw(&mut rng, (2, 7), (1, 5));
    let g = generate(&spec)?;
    let n = g.n();
    let batch = rng.int(1, n);
    let model = BatchModel::new(n, batch, sampling)?;
    let red = SpanReduction::new(&g, None)?;
    let desc = format!(
        "n={n} w={} r={} B={batch} scale=1e{:+.2}{}{}",
        g.w(),
        red.rank,
        spec.log_scale,
        if spec.heavy_tails { " heavy-tails" } else { "" },
        if spec.near_duplicates {
            " near-duplicates"
        } else {
            ""
        }
    );
    let (_solver, sets) = stable_sets(&red, model, ks)?;
    let max_k = ks.iter().copied().max().unwrap_or(1).max(2);
    let problem = Problem::from_gradients(
        &g,
        &ProblemOptions::default()
            .sampling(sampling)
            .max_order(max_k),
        Hooks::none(),
    )?;
    let eta1 = sets
        .iter()
        .find(|s| s.k == 1)
        .and_then(|s| s.lr_threshold)
        .or_else(|| {
            let lam = sharpness_nalgebra(&g);
            (lam > 0.0).then(|| 2.0 / lam)
        });

    for set in &sets {
        let k = set.k;
        let Some(eta) = set.lr_threshold else {
            continue;
        };
        let err = set.lr_threshold_error.unwrap_or(0.0);
        if k == 1 {
            let lam = sharpness_nalgebra(&g);
            let want = 2.0 / lam;
            let d = rel(eta, want);
            let tol = 1e-12 + err / want + 1e-13;
            rec.record("eta1=2/lambda_max", seed, sampling, d / 1e-12, d <= tol, || {
                format!("η*_1 = {eta:.17e} but 2/λ_max(H) = {want:.17e} (relative difference {d:.3e})")
            });
        }
        if k == 2 {
            if let Some(mm) = mulayoff_michaeli_threshold(&g, &model) {
                let d = rel(eta, mm);
                rec.record("eta2=mulayoff-michaeli", seed, sampling, d / 1e-9, d <= 1e-9 + err / mm, || {
                    format!("η*_2 = {eta:.17e} but Mulayoff–Michaeli 2/λ_max(C⁺D) = {mm:.17e} (relative difference {d:.3e})")
                });
            }
            if let Some(b) = mulayoff_michaeli_bounds(&red, &model)? {
                for (name, bound) in [
                    ("trace", b.trace_bound),
                    ("top-eigenvector", b.top_eigenvector_bound),
                ] {
                    let ratio = (eta - err) / bound;
                    rec.record(
                        "mm-necessary-bounds",
                        seed,
                        sampling,
                        ratio,
                        ratio <= 1.0 + 1e-12,
                        || format!("η*_2 = {eta:.17e} exceeds the {name} bound {bound:.17e}"),
                    );
                }
            }
        }
        let slack = crate::engine::bounds::bound_slack(k, n);
        if let Some(lim) = theorem2_lr_limit(&g, k, batch) {
            let ratio = (eta - err) / lim;
            rec.record("stable=>theorem2", seed, sampling, ratio, ratio <= 1.0 + slack, || {
                format!("k={k}: η*_k = {eta:.17e} (± {err:.1e}) exceeds the Theorem 2 limit {lim:.17e}: order {k} is stable at η*_k but (1/n)Σ a_ij^{} > 2^k B^(k-1)/η^k", 2 * k)
            });
        }
        if let Some(lim) = corollary1_lr_limit(&g, k, batch) {
            let ratio = (eta - err) / lim;
            rec.record("stable=>corollary1", seed, sampling, ratio, ratio <= 1.0 + slack, || {
                format!("k={k}: η*_k = {eta:.17e} (± {err:.1e}) exceeds the Corollary 1 limit {lim:.17e}")
            });
        }
        if k % 2 == 0 {
            let ratio = eta1.map_or(0.0, |e1| (eta - err) / e1);
            rec.record("even-k:eta_k<=eta_1", seed, sampling, ratio, ratio <= 1.0 + 1e-12, || {
                format!("k={k}: η*_k = {eta:.17e} > η*_1 = {eta1:?} although ρ_k >= ρ_1^k for even k")
            });
        }
        // drawn learning rates on both sides of η*_k
        for f in LR_FACTORS {
            let lr = f * eta;
            let rep = problem.analyze(
                lr,
                batch,
                &AnalyzeOptions::default().orders([k]),
                Hooks::none(),
            )?;
            let ord = &rep.orders[0];
            if k % 2 == 0 {
                if let Some(top) = ord.blocks.iter().find(|b| b.j == k) {
                    let ratio = -top.lambda_min / top.lambda_max;
                    let ok = -top.lambda_min <= top.lambda_max + top.error_bound;
                    rec.record("even-k:radius=lambda_max", seed, sampling, ratio, ok, || {
                        format!("k={k}, η={lr:.17e}: λ_min(T_k) = {:.17e} is larger in modulus than λ_max = {:.17e} (the Perron root of the cone-preserving T_k must be the radius)", top.lambda_min, top.lambda_max)
                    });
                }
            }
            let t2 = &ord.theorem2;
            let c1 = &ord.corollary1;
            if t2.holds {
                rec.record("theorem2=>corollary1", seed, sampling, c1.ratio, c1.holds, || {
                    format!("k={k}, η={lr:.17e}: Theorem 2 holds (ratio {:.17e}) but Corollary 1 fails (ratio {:.17e})", t2.ratio, c1.ratio)
                });
            }
            // membership, away from the boundaries by more than their error bounds
            let near = set
                .boundaries
                .iter()
                .any(|b| (lr - b.lr).abs() <= b.error.max(1e-9 * b.lr));
            if !near && set.stable_set_complete {
                let inside = set.stable_set.iter().any(|iv| iv.contains(lr));
                let agrees = match ord.verdict {
                    Verdict::Stable => inside,
                    Verdict::Unstable => !inside,
                    Verdict::Marginal => true,
                };
                let ratio = if inside { ord.reduced_radius } else { 0.0 };
                rec.record("stable-set=spectrum", seed, sampling, ratio, agrees, || {
                    format!("k={k}, η={lr:.17e}: analyze says {} (reduced ρ = {:.17e}) but η {} S_k = {:?}", ord.verdict, ord.reduced_radius, if inside { "∈" } else { "∉" }, set.stable_set)
                });
            }
            if k == 2 || (k == 1 && ks.contains(&2)) {
                let rep2 = if k == 2 {
                    rep.clone()
                } else {
                    problem.analyze(
                        lr,
                        batch,
                        &AnalyzeOptions::default().orders([2]),
                        Hooks::none(),
                    )?
                };
                let o = &rep2.orders[0];
                let tol = o.error_bound + rep2.prop1.error_bound;
                for blk in &o.blocks {
                    let power = match blk.j {
                        1 => 2,
                        2 => 1,
                        _ => continue,
                    };
                    let lhs = blk.radius.powi(power);
                    let q = rep2.prop1.value;
                    rec.record("prop1=>order2", seed, sampling, lhs / q, lhs <= q + tol, || {
                        format!("η={lr:.17e}: ρ(T_{})^{power} = {lhs:.17e} > q = λ_max E[MᵀM] = {q:.17e}", blk.j)
                    });
                }
            }
        }
        // closed form = brute force where tiny
        let r = red.rank;
        if k <= 3
            && (1..=3).contains(&r)
            && brute::batch_count(n, batch, sampling).is_some_and(|c| c <= 3000)
        {
            let lr = 0.9 * eta;
            let t = DenseMoment::build(&red, k, lr, &model, u128::MAX)?;
            let bf = brute::brute_force_tk(&red.coords, n, r, k, lr, batch, sampling)?;
            let diff = t
                .matrix
                .iter()
                .zip(&bf)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f64, f64::max);
            let tol = 1e-11 * t.frobenius.max(1.0);
            rec.record(
                "closed-form=brute-force",
                seed,
                sampling,
                diff / tol,
                diff <= tol,
                || format!("k={k}, η={lr:.17e}: max |T_closed − T_brute| = {diff:.3e} > {tol:.3e}"),
            );
        }
    }
    // η*_2 monotone in B, without replacement
    if sampling == Sampling::WithoutReplacement && ks.contains(&2) {
        let mut prev: Option<(usize, f64, f64)> = None;
        for b in 1..=n {
            let m = BatchModel::new(n, b, sampling)?;
            let (_s, sets) = stable_sets(&red, m, &[2])?;
            let Some(eta) = sets[0].lr_threshold else {
                break;
            };
            let err = sets[0].lr_threshold_error.unwrap_or(0.0);
            if let Some((pb, pe, perr)) = prev {
                let ratio = (pe - perr) / (eta + err);
                rec.record(
                    "eta2-monotone-in-B",
                    seed,
                    sampling,
                    ratio,
                    ratio <= 1.0 + 1e-12,
                    || format!("η*_2(B={pb}) = {pe:.17e} > η*_2(B={b}) = {eta:.17e}"),
                );
            }
            prev = Some((b, eta, err));
        }
    }
    Ok(desc)
}
