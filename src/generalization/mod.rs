//! Section 5 of the paper on real numbers: the generalization bound of Theorem 6 (eq. 26) and
//! the robustness bound of Theorem 7 (eq. 27), term by term, next to the measured test error and
//! the measured sensitivity of the model.
//!
//! # What is computed, and how each quantity is obtained
//!
//! Inputs: a model `f(x, W) = f̃(W_1 x, W_2)` at `W*` ([`InputLayerModel`]), its `n` training
//! points `x_i` (with targets `y_i`), a held-out test set from the same distribution `μ`, the
//! learning rate `η` and batch size `B` of training, orders `k`, and a grid of radii `δ`.
//! With `S_k = (2nw/B)^{1/(2k)} sqrt(2B/η)` (Theorem 5's factor, as printed in the paper) and
//! `N_k = ‖(W_1*)ᵀ‖_{2k}` taken at the **upper** end of its bracket
//! ([`crate::networks::matrix_norm::bracket`]; exact for `k = 1`), so that the printed bounds are never
//! smaller than with the true norm:
//!
//! ```text
//! eq. (26):  E(f − f*)² <= 2d C² N_k² / min_i ‖x_i‖_{2k}² · (S_k + 1)² δ²   (smoothness term)
//!                         + 2 M₂² δ²                                      (target term)
//!                         + 4 M₁² ε₂(δ)                                    (uncovered term)
//! eq. (27):  |f(x) − f(x_i)| <= C √d N_k / min_i ‖x_i‖_{2k} · (S_k + 1) δ   for ‖x − x_i‖_2 <= δ
//! ```
//!
//! | quantity | how | kind |
//! |---|---|---|
//! | `ε₂(δ)` (Def. 2/4) | fraction of test points with `min_i ‖x − x_i‖_2 > δ` | empirical estimate of the probability in eq. (10) for this training set |
//! | `K(δ)` (Def. 3) | `max κ(z)`, `κ(z) = #{i : ‖z − x_i‖_2 <= δ}`, over `z` = training points, test points and midpoints of training pairs ([`covering::ScatterEstimator`]) | **lower** estimate of `sup κ`; in `[1, n]`. Reported for completeness: it enters Theorem 4 (eq. 24), **not** eqs. (26)/(27), which bound the largest `‖∇_W f(x_i)‖_{2k}` by the sum over `i` instead (hence the `n` in `S_k`) |
//! | `δ_approx` | `δ ‖W_1*‖_2 / min_i ‖x_i‖_2` (Theorems 6 and 7) | exact |
//! | `C` (Def. 1) at `δ_approx` | `c_ratio` = the largest `‖∇_W f(x_i, W')‖_{2k} / (‖∇_W f(x_i, W*)‖_{2k} + 1)` over all `i` and sampled `W'` with `‖W' − W*‖_2 <= δ'` for every grid radius `δ' <= δ_approx` ([`probe::probe_parameter_gradient`]: random points on the sphere and a projected-ascent chain); `C = max(1, c_ratio)` | **lower** estimate of the smallest valid `C` (a sampled supremum; not a certificate). The floor 1 is the value for models whose parameter gradient does not move (linear models, where Definition 1 holds with `C = 1`); the ratio at `W' = W*` alone is `‖a_i‖/(‖a_i‖ + 1) < 1`, which only reflects the `+1` slack of eq. (8) |
//! | `M₁` | `max(|f|, |f*|)` over training ∪ test points | empirical (lower) estimate of the supremum over the support |
//! | `M₂` | closed form from the data set's definition ([`crate::networks::datasets::Distribution::gradient_bound`]); when unknown (Iris), the largest difference quotient `|y_a − y_b| / ‖x_a − x_b‖_2` over distinct inputs of training ∪ test ([`M2Source::DifferenceQuotient`]) | exact or an upper bound; the difference quotient is a **lower** estimate |
//! | premise | Theorem 1 verdict for order `k` at the training `(η, B)` (the analyzer) | exact, with error bounds |
//! | test error | `(1/n_test) Σ_j (f(x_j) − y_j)²` | exact on the test sample (a Monte-Carlo estimate of `E_μ`) |
//! | sensitivity | the largest `|f(x) − f(x_i)|` over `‖x − x_i‖_2 <= δ'`, all `i`, all grid radii `δ' <= δ` ([`probe::probe_sensitivity`]: random, input-gradient and ascent points) | **lower** estimate of the supremum that eq. (27) bounds |
//!
//! Because `C`, `M₁` (and the Iris `M₂`) are lower estimates, a bound printed here can be
//! smaller than the paper's bound with the true constants; a measured value above it is
//! reported as a finding together with the `C` that would be needed (`c_needed`).
//! Theorem 6 also assumes exact interpolation, `f(x_i) = f*(x_i)`: the report gives the largest
//! training residual.

pub mod bounds;
pub mod bundle;
pub mod covering;
mod measure;
pub mod probe;
pub mod report;
mod text;

use crate::engine::stability::Verdict;
use crate::error::{Error, Param, Result};
use crate::networks::datasets::{Dataset, GradientBound};
use crate::networks::matrix_norm::{spectral_norm, transpose};
use crate::progress::Progress;
pub use bounds::stability_factor;
use bounds::{order_bounds, BoundContext};
use measure::{
    check_input, covering_section, local_smoothness, m2_of, radii, sensitivity_rows, ModelShape,
};
pub use probe::{InputLayerModel, ProbeKind, ProbeOptions, Sensitivity};
pub use report::*;
pub use text::text;

/// Version of the `generalization` JSON schema.
pub const GENERALIZATION_SCHEMA_VERSION: u32 = 2;

/// Relative slack of the bound comparisons (rounding).
pub const RELATIVE_SLACK: f64 = 1e-12;

/// Largest number of radii on the grid.
pub const MAX_DELTAS: usize = 1000;

/// Largest number of random directions or ascent steps per probe.
pub const MAX_PROBES: usize = 100_000;

/// Above this many points in training ∪ test, the Iris-style `M₂` difference quotient runs
/// over (training, any) pairs only.
pub const MAX_QUOTIENT_POINTS: usize = 5000;

/// The radii `δ`.
#[derive(Debug, Clone, PartialEq)]
pub enum DeltaGrid {
    /// `count` radii from [`covering::default_deltas`].
    Auto {
        /// Number of radii.
        count: usize,
    },
    /// These radii (sorted and deduplicated; each finite and > 0).
    Given(Vec<f64>),
}

/// Options of [`generalization`].
#[derive(Debug, Clone, PartialEq)]
pub struct GeneralizationOptions {
    /// Orders `k >= 1`.
    pub orders: Vec<usize>,
    /// The radii.
    pub deltas: DeltaGrid,
    /// How hard the probes search.
    pub probes: ProbeOptions,
}

impl GeneralizationOptions {
    /// Checks the orders, the radii (count or values) and the probe limits, without data.
    pub fn check(&self) -> Result<()> {
        crate::engine::analysis::check_orders(&self.orders)?;
        radii(&self.deltas, &[1.0])?;
        for (flag, v) in [
            (Param::Samples, self.probes.random_directions),
            (Param::AscentSteps, self.probes.ascent_steps),
        ] {
            if v > MAX_PROBES {
                return Err(Error::parameter(flag, v, format!("at most {MAX_PROBES}")));
            }
        }
        Ok(())
    }

    /// 24 automatic radii and default probes.
    pub fn new(orders: Vec<usize>) -> Self {
        GeneralizationOptions {
            orders,
            deltas: DeltaGrid::Auto { count: 24 },
            probes: ProbeOptions::default(),
        }
    }
}

/// What [`generalization`] works on.
#[derive(Debug, Clone, Copy)]
pub struct SectionFiveInput<'a, M: ?Sized> {
    /// The model at `W*`.
    pub model: &'a M,
    /// Training data (`x_i`, `y_i = f*(x_i)`).
    pub train: &'a Dataset,
    /// Held-out data from the same distribution.
    pub test: &'a Dataset,
    /// `M₂` when the target's gradient bound is known; `None` = difference-quotient estimate.
    pub gradient_bound: Option<GradientBound>,
    /// Learning rate `η` of training.
    pub lr: f64,
    /// Batch size `B` of training.
    pub batch: usize,
}

/// Evaluates eqs. (26) and (27) with every quantity they need (see the module docs), in the
/// steps named above. `premise(k)` is the analyzer's verdict for order `k` at `(lr, batch)` when
/// known.
pub fn generalization<M: InputLayerModel + ?Sized>(
    inp: &SectionFiveInput<'_, M>,
    opts: &GeneralizationOptions,
    premise: &dyn Fn(usize) -> Option<Verdict>,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<GeneralizationReport> {
    let model = inp.model;
    let (w1, m) = model.first_layer();
    let shape = ModelShape {
        input_dim: model.input_dim(),
        w: model.params().len(),
        w1: &w1,
        m,
    };
    let ck = check_input(inp.train, inp.test, shape, inp.lr, inp.batch, opts)?;
    let (f_train, f_test) = measure::outputs(model, inp.train, inp.test);
    let common = Common::new(
        inp.train,
        inp.test,
        &ck,
        &f_train,
        &f_test,
        inp.gradient_bound,
        opts,
    )?;
    progress.begin("generalization", 1 + 2 * common.deltas.len() as u64);
    progress.advance(1, "covering");
    let probes = opts.probes;
    let per_radius_c = local_smoothness(inp, &common.covering.rows, &ck.orders, &probes, progress);
    let sensitivity = sensitivity_rows(inp, &common.deltas, &probes, progress);
    progress.end();
    let side = ModelSide {
        kind: ModelKind::Model,
        not_computed: Vec::new(),
    };
    common.finish(
        &ck,
        (inp.lr, inp.batch),
        Some(&per_radius_c),
        sensitivity,
        side,
        opts,
        premise,
        input,
    )
}

/// The values a model of any framework leaves in a network bundle, as Section 5 takes them
/// ([`generalization_recorded`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordedInput<'a> {
    /// Training data (`x_i`, `y_i`).
    pub train: &'a Dataset,
    /// Held-out data.
    pub test: &'a Dataset,
    /// `f(x_i, W*)` on the training inputs.
    pub train_outputs: &'a [f64],
    /// `f(x, W*)` on the test inputs.
    pub test_outputs: &'a [f64],
    /// Parameters `w`.
    pub w: usize,
    /// `W_1`, `m × d` row-major.
    pub w1: &'a [f64],
    /// `m`.
    pub m: usize,
    /// The model's outputs at perturbed inputs, when recorded.
    pub perturbed: Option<&'a crate::io::bundle::Perturbed>,
    /// Learning rate `η` of training.
    pub lr: f64,
    /// Batch size `B` of training.
    pub batch: usize,
}

/// Why `C` is not probed on recorded values.
pub const C_NOT_PROBED: &str = "C of Definition 1 (needs the model's parameter gradients at W' near W*): not probed, the bounds use C = 1, the smallest value the report's estimate takes (a lower estimate of the true C, so the eq. (26) and (27) bounds printed may be below the paper's)";

/// Why the sensitivity is not measured without recorded perturbed outputs.
pub const SENSITIVITY_NOT_MEASURED: &str = "the sensitivity |f(x) − f(x_i)| of eq. (27) (needs the model's outputs near the training points): the bundle has no perturbed_x.npy / perturbed_index.npy / perturbed_outputs.npy, so eq. (27) is not compared";

/// Eqs. (26) and (27) from recorded values: the test error and `M₁` from the recorded outputs,
/// the covering quantities from the inputs, `M₂` by the difference quotient, the sensitivity
/// from the recorded perturbed outputs (when given); `C` is not probed (1 is used; see
/// [`ModelSide::not_computed`]).
pub fn generalization_recorded(
    inp: &RecordedInput<'_>,
    opts: &GeneralizationOptions,
    premise: &dyn Fn(usize) -> Option<Verdict>,
    input: Option<String>,
    progress: &dyn Progress,
) -> Result<GeneralizationReport> {
    let (train, test) = (inp.train, inp.test);
    let shape = ModelShape {
        input_dim: train.d,
        w: inp.w,
        w1: inp.w1,
        m: inp.m,
    };
    let ck = check_input(train, test, shape, inp.lr, inp.batch, opts)?;
    for (what, v, want) in [
        ("outputs", inp.train_outputs, train.n),
        ("test outputs", inp.test_outputs, test.n),
    ] {
        if v.len() != want {
            return Err(Error::InvalidInput {
                context: what.into(),
                message: format!("{} values for {want} points", v.len()),
            });
        }
    }
    let common = Common::new(
        train,
        test,
        &ck,
        inp.train_outputs,
        inp.test_outputs,
        None,
        opts,
    )?;
    progress.begin("generalization", 1);
    let mut not_computed = vec![C_NOT_PROBED.to_string()];
    let sensitivity = match inp.perturbed {
        Some(p) => measure::recorded_sensitivity(train, inp.train_outputs, p, &common.deltas),
        None => {
            not_computed.push(SENSITIVITY_NOT_MEASURED.to_string());
            Vec::new()
        }
    };
    progress.advance(1, "covering");
    progress.end();
    let side = ModelSide {
        kind: ModelKind::Recorded,
        not_computed,
    };
    common.finish(
        &ck,
        (inp.lr, inp.batch),
        None,
        sensitivity,
        side,
        opts,
        premise,
        input,
    )
}

/// What both paths share once the outputs are known: steps 2–4 and 7.
struct Common<'a> {
    train: &'a Dataset,
    test: &'a Dataset,
    measured: Measured,
    m1: M1,
    m2: M2,
    nearest: Vec<f64>,
    deltas: Vec<f64>,
    covering: Covering,
    w1_norm: f64,
}

impl<'a> Common<'a> {
    fn new(
        train: &'a Dataset,
        test: &'a Dataset,
        ck: &measure::Checked,
        f_train: &[f64],
        f_test: &[f64],
        gradient_bound: Option<GradientBound>,
        opts: &GeneralizationOptions,
    ) -> Result<Self> {
        let d = train.d;
        let w1_norm = spectral_norm(&ck.w1, ck.m, d);
        let (measured, m1) = measure::measure(train, test, f_train, f_test);
        let m2 = m2_of(gradient_bound, train, test);
        let nearest = covering::nearest_distances(&test.x, &train.x, d);
        let deltas = radii(&opts.deltas, &nearest)?;
        let covering = covering_section(train, test, &nearest, &deltas, w1_norm, ck.min_x_2);
        Ok(Common {
            train,
            test,
            measured,
            m1,
            m2,
            nearest,
            deltas,
            covering,
            w1_norm,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        self,
        ck: &measure::Checked,
        (lr, batch): (f64, usize),
        per_radius_c: Option<&[Vec<f64>]>,
        sensitivity: Vec<SensitivityRow>,
        model_side: ModelSide,
        opts: &GeneralizationOptions,
        premise: &dyn Fn(usize) -> Option<Verdict>,
        input: Option<String>,
    ) -> Result<GeneralizationReport> {
        let (train, test) = (self.train, self.test);
        let (n, d, m) = (train.n, train.d, ck.m);
        let w1t = transpose(&ck.w1, m, d);
        let eq26_small_delta_limit =
            4.0 * self.m1.value * self.m1.value * covering::uncovered_fraction(&self.nearest, 0.0);
        let ctx = BoundContext {
            n,
            d,
            w: ck.w,
            m,
            lr,
            batch,
            w1t: &w1t,
            train,
            cover_rows: &self.covering.rows,
            per_radius_c,
            sensitivity: &sensitivity,
            m1: &self.m1,
            m2: &self.m2,
            measured: &self.measured,
            eq26_small_delta_limit,
        };
        let mut findings = Vec::new();
        let mut out = Vec::with_capacity(ck.orders.len());
        for (o, &k) in ck.orders.iter().enumerate() {
            let (bounds, mut f) = order_bounds(&ctx, o, k, premise(k))?;
            findings.append(&mut f);
            out.push(bounds);
        }
        Ok(GeneralizationReport {
            schema_version: GENERALIZATION_SCHEMA_VERSION,
            command: "generalization",
            tool_version: env!("CARGO_PKG_VERSION"),
            input,
            dataset: train.name.clone(),
            test_set: test.name.clone(),
            n,
            n_test: test.n,
            d,
            w: ck.w,
            m,
            lr,
            batch,
            w1_spectral_norm: self.w1_norm,
            min_x_norm_2: ck.min_x_2,
            measured: self.measured,
            m1: self.m1,
            m2: self.m2,
            eq26_small_delta_limit,
            probes: opts.probes,
            model_side,
            covering: self.covering,
            sensitivity,
            orders: out,
            ok: findings.is_empty(),
            findings,
        })
    }
}
