//! The library's entry point: a [`Problem`] is the per-sample gradients `a_i` (the rows of an
//! `n × w` matrix `A`), a sampling scheme and a rank tolerance, **reduced once** — the span
//! reduction to `r = rank(A)` coordinates (DESIGN §4) and the Theorem 2 / Corollary 1 moment
//! statistics of the original coordinates up to [`ProblemOptions::max_order`] — after which
//! [`Problem::analyze`] (Theorem 1, Prop. 1, Theorem 2, Corollary 1 at one `(η, B)`),
//! [`Problem::thresholds`] (the stable sets `S_k` and `η*_k`, DESIGN §7) and
//! [`Problem::diagram`] (`η*_k(B)` over batch sizes) run as often as needed.
//!
//! A problem is built from an owned matrix ([`Problem::from_gradients`]), a file
//! ([`Problem::from_file`]: `.npy`, `.npz`, safetensors, text; wide `.npy` files streamed), or
//! borrowed `f64`/`f32` data with any strides ([`Problem::from_view`],
//! [`Problem::from_views`] for per-parameter dictionaries) without an `f64` copy of it.
//!
//! Every long computation takes [`Hooks`]: progress events, and a cancellation flag polled at
//! least once per operator product, so a caller can stop a run within a second
//! ([`crate::Error::Cancelled`]):
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use sgdstab::{AnalyzeOptions, Error, Gradients, Hooks, NoProgress, Problem, ProblemOptions};
//!
//! let a = Gradients::from_rows(&[vec![1.0, 0.0], vec![0.5, 1.0], vec![0.0, 2.0]])?;
//! let p = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none())?;
//! let stop = AtomicBool::new(false); // e.g. set by a Ctrl-C handler or another thread
//! let hooks = Hooks::new(&NoProgress, &stop);
//! assert!(p.analyze(0.1, 2, &AnalyzeOptions::default(), hooks).is_ok());
//! stop.store(true, Ordering::Relaxed);
//! let e = p.analyze(0.1, 2, &AnalyzeOptions::default(), hooks).unwrap_err();
//! assert!(matches!(e, Error::Cancelled));
//! # Ok::<(), sgdstab::Error>(())
//! ```
//!
//! The learning rate `η` is that of SGD on the square loss `(1/2n) Σ_i (f(x_i) − y_i)²`
//! (eq. 7); with PyTorch's `MSELoss` (mean of squared errors, without the ½) the same step is
//! `η = 2·lr`.

pub mod view;

use crate::engine::analysis::{
    analyze_prepared, check_orders, AnalysisReport, AnalyzeOptions, Prepared, MAX_ORDER,
};
use crate::engine::bounds::MomentStats;
use crate::engine::gradients::{
    loss_gradient_warning, mean_gradient_ratio, ColumnBlock, Gradients, Warning,
};
use crate::engine::reduction::{relative_tolerance_or_default, SpanReduction};
use crate::engine::sampling::Sampling;
use crate::error::{Error, Param, Result};
use crate::io::stream::StreamMode;
use crate::progress::Hooks;
use crate::threshold::diagram::{diagram_prepared, DiagramOptions, DiagramReport};
use crate::threshold::report::{threshold_prepared, ThresholdReport};
use crate::threshold::ThresholdOptions;
use std::path::Path;
use view::{reduce_blocks, Columns, GradientView, NamedView};

/// Default [`ProblemOptions::max_order`].
pub const DEFAULT_MAX_ORDER: usize = 4;

/// How a [`Problem`] is built: what is fixed once the gradients are reduced.
///
/// ```
/// use sgdstab::{ProblemOptions, Sampling};
///
/// let opts = ProblemOptions::default()
///     .sampling(Sampling::WithReplacement)
///     .max_order(3)
///     .input("my gradients");
/// opts.validate().unwrap();
/// assert!(ProblemOptions::default().rank_tolerance(Some(2.0)).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProblemOptions {
    /// Sampling scheme of the mini-batches (default without replacement, the paper's eq. 15).
    pub sampling: Sampling,
    /// Relative rank tolerance `τ` of the span reduction (default `max(n, w)·ε`;
    /// [`crate::engine::reduction`]).
    pub rank_tolerance: Option<f64>,
    /// The largest order `k` whose Theorem 2 / Corollary 1 statistics are computed (default
    /// [`DEFAULT_MAX_ORDER`]; at most [`MAX_ORDER`]): later requests may ask for any
    /// `k <= max_order`.
    pub max_order: usize,
    /// The name reports give the input (`input`); [`Problem::from_file`] defaults it to the path.
    pub input: Option<String>,
    /// Files holding several arrays (`.npz`, safetensors): read only this one (default: all,
    /// concatenated in the file's order).
    pub key: Option<String>,
    /// Files: when to stream a `.npy` instead of reading it whole
    /// ([`crate::io::stream::should_stream`]).
    pub stream: StreamMode,
}

impl Default for ProblemOptions {
    fn default() -> Self {
        ProblemOptions {
            sampling: Sampling::default(),
            rank_tolerance: None,
            max_order: DEFAULT_MAX_ORDER,
            input: None,
            key: None,
            stream: StreamMode::Auto,
        }
    }
}

impl ProblemOptions {
    /// Sets [`ProblemOptions::sampling`].
    pub fn sampling(mut self, s: Sampling) -> Self {
        self.sampling = s;
        self
    }

    /// Sets [`ProblemOptions::rank_tolerance`].
    pub fn rank_tolerance(mut self, t: Option<f64>) -> Self {
        self.rank_tolerance = t;
        self
    }

    /// Sets [`ProblemOptions::max_order`].
    pub fn max_order(mut self, k: usize) -> Self {
        self.max_order = k;
        self
    }

    /// Sets [`ProblemOptions::input`].
    pub fn input(mut self, name: impl Into<String>) -> Self {
        self.input = Some(name.into());
        self
    }

    /// Sets [`ProblemOptions::key`].
    pub fn key(mut self, key: Option<String>) -> Self {
        self.key = key;
        self
    }

    /// Sets [`ProblemOptions::stream`].
    pub fn stream(mut self, mode: StreamMode) -> Self {
        self.stream = mode;
        self
    }

    /// Checks `1 <= max_order <= MAX_ORDER` and the rank tolerance (finite, in `[0, 1)`).
    pub fn validate(&self) -> Result<()> {
        if self.max_order == 0 || self.max_order > MAX_ORDER {
            return Err(Error::parameter(
                Param::MaxOrder,
                self.max_order,
                format!("must be in 1..={MAX_ORDER}"),
            ));
        }
        relative_tolerance_or_default(1, 1, self.rank_tolerance)?;
        Ok(())
    }

    /// The orders whose statistics are computed: `1..=max_order`.
    fn stat_orders(&self) -> Vec<usize> {
        (1..=self.max_order).collect()
    }
}

/// Per-sample gradients with their sampling scheme, reduced once (see the module docs).
///
/// ```
/// use sgdstab::{AnalyzeOptions, Gradients, Hooks, Problem, ProblemOptions, ThresholdOptions};
///
/// let a = Gradients::from_rows(&[vec![1.0, 0.5], vec![-0.5, 1.0], vec![0.25, 0.25]])?;
/// let problem = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none())?;
/// let report = problem.analyze(0.5, 2, &AnalyzeOptions::default(), Hooks::none())?;
/// assert_eq!(report.orders[0].verdict.name(), "stable");
/// let sets = problem.thresholds(2, &ThresholdOptions::default(), Hooks::none())?;
/// // η = 0.5 lies below the exact first-order threshold η*_1 = 2/λ_max(H)
/// assert!(sets.orders[0].set.lr_threshold.unwrap() > 0.5);
/// # Ok::<(), sgdstab::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Problem {
    prep: Prepared,
    sampling: Sampling,
    max_order: usize,
    input: Option<String>,
    column_layout: Option<Vec<ColumnBlock>>,
    mean_gradient_ratio: Option<f64>,
}

impl Problem {
    /// From an in-memory matrix (`n × w`, rows = samples).
    pub fn from_gradients(grads: &Gradients, opts: &ProblemOptions, hooks: Hooks) -> Result<Self> {
        opts.validate()?;
        hooks.checkpoint()?;
        let prep = prepare_rows(
            grads.n(),
            grads.w(),
            |i| grads.row(i),
            grads.as_faer(),
            opts,
        )?;
        hooks.checkpoint()?;
        Ok(Self::assemble(prep, opts, opts.input.clone(), None))
    }

    /// From a gradient file ([`crate::io`]: `.npy`, `.npz`, safetensors, text; `-` reads
    /// standard input where the reader supports it). A wide `.npy` is streamed per
    /// [`ProblemOptions::stream`] (never held whole); a per-parameter dictionary keeps its
    /// column layout ([`Problem::column_layout`]). Reports name the input
    /// [`ProblemOptions::input`], by default the path as given.
    ///
    /// ```no_run
    /// use sgdstab::{Hooks, Problem, ProblemOptions};
    ///
    /// let p = Problem::from_file("grads.npz".as_ref(), &ProblemOptions::default(), Hooks::none())?;
    /// println!("n = {}, w = {}, rank {}", p.n(), p.w(), p.rank());
    /// # Ok::<(), sgdstab::Error>(())
    /// ```
    pub fn from_file(path: &Path, opts: &ProblemOptions, hooks: Hooks) -> Result<Self> {
        opts.validate()?;
        let input = opts
            .input
            .clone()
            .or_else(|| Some(path.display().to_string()));
        if opts.key.is_none() && crate::io::stream::should_stream(path, opts.stream)? {
            hooks.checkpoint()?;
            let orders = opts.stat_orders();
            let streamed = crate::io::stream::stream_gram(path, &orders, None, hooks.progress)?;
            hooks.checkpoint()?;
            // the same over/underflow check as the in-memory paths (before the Gram is used)
            check_scale(
                streamed.largest_abs,
                streamed.n,
                streamed.w,
                orders.iter().copied().max().unwrap_or(1),
                &path.display().to_string(),
            )?;
            let prep = Prepared::from_streamed(streamed, opts.rank_tolerance)?;
            return Ok(Self::assemble(prep, opts, input, None));
        }
        let read = crate::io::read_input(
            path,
            &crate::io::ReadOptions {
                key: opts.key.clone(),
            },
        )?;
        let layout = read.format.is_container().then(|| {
            read.blocks
                .iter()
                .map(|b| ColumnBlock {
                    name: b.name.clone(),
                    shape: b.shape.get(1..).map(<[usize]>::to_vec).unwrap_or_default(),
                    offset: b.columns.start,
                    columns: b.columns.len(),
                })
                .collect()
        });
        let named = opts.clone().input(input.clone().unwrap_or_default());
        let mut p = Self::from_gradients(&read.gradients, &named, hooks)?;
        p.input = input;
        p.column_layout = layout;
        Ok(p)
    }

    /// From borrowed `f64` or `f32` data with any strides, without an `f64` copy of the matrix
    /// (the Gram matrix, the reduced coordinates and the statistics are computed from the view in
    /// blocks: [`view`]). The numbers equal those of [`Problem::from_gradients`] on the same
    /// values to rounding (bit for bit for a row-major `f64` view).
    ///
    /// ```
    /// use sgdstab::{GradientView, Hooks, Problem, ProblemOptions};
    ///
    /// // a 2 × 3 float32 matrix stored in Fortran order
    /// let data = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0];
    /// let view = GradientView::f32_column_major(&data, 2, 3);
    /// let p = Problem::from_view(view, &ProblemOptions::default(), Hooks::none())?;
    /// assert_eq!((p.n(), p.w(), p.rank()), (2, 3, 2));
    /// # Ok::<(), sgdstab::Error>(())
    /// ```
    pub fn from_view(view: GradientView<'_>, opts: &ProblemOptions, hooks: Hooks) -> Result<Self> {
        opts.validate()?;
        let context = opts.input.clone().unwrap_or_else(|| "grads".into());
        let cols = Columns::single(view, &context)?;
        let prep = prepare_columns(&cols, opts, &context, hooks)?;
        Ok(Self::assemble(prep, opts, opts.input.clone(), None))
    }

    /// From a per-parameter dictionary: the views (each `n × size`, the sample axis first)
    /// concatenated along the columns in the given order, without a copy. The layout is kept
    /// ([`Problem::column_layout`]) and reported, so that a coordinate maps back to a parameter.
    ///
    /// ```
    /// use sgdstab::{GradientView, Hooks, NamedView, Problem, ProblemOptions};
    ///
    /// let w = [1.0, 0.0, 0.5, 2.0, 1.0, -1.0, 0.0, 1.0]; // 2 samples × (2 × 2)
    /// let b = [1.0f32, 1.0]; // 2 samples × scalar
    /// let parts = [
    ///     NamedView { name: "w".into(), shape: vec![2, 2], view: GradientView::f64_row_major(&w, 2, 4) },
    ///     NamedView { name: "b".into(), shape: vec![], view: GradientView::f32_row_major(&b, 2, 1) },
    /// ];
    /// let p = Problem::from_views(&parts, &ProblemOptions::default(), Hooks::none())?;
    /// let layout = p.column_layout().unwrap();
    /// assert_eq!((layout[1].name.as_str(), layout[1].offset, layout[1].columns), ("b", 4, 1));
    /// # Ok::<(), sgdstab::Error>(())
    /// ```
    pub fn from_views(
        views: &[NamedView<'_>],
        opts: &ProblemOptions,
        hooks: Hooks,
    ) -> Result<Self> {
        opts.validate()?;
        let context = opts.input.clone().unwrap_or_else(|| "grads".into());
        let (cols, layout) = Columns::named(views, &context)?;
        let prep = prepare_columns(&cols, opts, &context, hooks)?;
        Ok(Self::assemble(prep, opts, opts.input.clone(), Some(layout)))
    }

    fn assemble(
        prep: Prepared,
        opts: &ProblemOptions,
        input: Option<String>,
        column_layout: Option<Vec<ColumnBlock>>,
    ) -> Self {
        let red = &prep.reduction;
        let mean_gradient_ratio = mean_gradient_ratio(&red.coords, red.n, red.rank);
        Problem {
            prep,
            sampling: opts.sampling,
            max_order: opts.max_order,
            input,
            column_layout,
            mean_gradient_ratio,
        }
    }

    /// Samples `n`.
    pub fn n(&self) -> usize {
        self.prep.reduction.n
    }

    /// Parameters `w`.
    pub fn w(&self) -> usize {
        self.prep.reduction.w
    }

    /// `r = rank(A)` at the rank tolerance.
    pub fn rank(&self) -> usize {
        self.prep.reduction.rank
    }

    /// The sampling scheme.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// The largest order the moment statistics cover.
    pub fn max_order(&self) -> usize {
        self.max_order
    }

    /// `Tr H = (1/n) Σ ‖a_i‖²` (flatness, eq. 3).
    pub fn flatness(&self) -> f64 {
        self.prep.flatness
    }

    /// Whether the gradients were streamed from a file (never held whole).
    pub fn streamed(&self) -> bool {
        self.prep.streamed
    }

    /// The name reports give the input.
    pub fn input(&self) -> Option<&str> {
        self.input.as_deref()
    }

    /// For a per-parameter dictionary input: where each parameter's columns are.
    pub fn column_layout(&self) -> Option<&[ColumnBlock]> {
        self.column_layout.as_deref()
    }

    /// `‖(1/n) Σ a_i‖ / ((1/n) Σ ‖a_i‖)`, `None` when every row is zero (see
    /// [`crate::engine::gradients::LOSS_GRADIENT_RATIO`]).
    pub fn mean_gradient_ratio(&self) -> Option<f64> {
        self.mean_gradient_ratio
    }

    /// Warnings about the input: rows that look like per-sample loss gradients.
    pub fn warnings(&self) -> Vec<Warning> {
        loss_gradient_warning(self.mean_gradient_ratio)
            .into_iter()
            .collect()
    }

    /// The span reduction: the coordinates `b_i ∈ R^r` every reduced block `T_j^{(b)}` is built
    /// from ([`crate::engine::moment_operator::DenseMoment::build`],
    /// [`crate::engine::matrix_free`]).
    pub fn reduction(&self) -> &SpanReduction {
        &self.prep.reduction
    }

    /// The Theorem 1 verdicts, spectra, Prop. 1, Theorem 2 and Corollary 1 at learning rate `lr`
    /// and batch size `batch` for [`AnalyzeOptions::orders`].
    ///
    /// Errors: `lr` not finite or `<= 0`, `batch` outside `1..=n`, orders outside
    /// `1..=max_order`, invalid options ([`Param`]), a block too large for the method or the
    /// memory budget, [`Error::Cancelled`].
    ///
    /// ```
    /// use sgdstab::{AnalyzeOptions, Gradients, Hooks, Problem, ProblemOptions, Verdict};
    ///
    /// let a = Gradients::from_rows(&[vec![1.0], vec![2.0]])?; // H = 2.5, η*_1 = 0.8
    /// let p = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none())?;
    /// let r = p.analyze(1.0, 1, &AnalyzeOptions::default().orders([1]), Hooks::none())?;
    /// assert_eq!(r.orders[0].verdict, Verdict::Unstable);
    /// # Ok::<(), sgdstab::Error>(())
    /// ```
    pub fn analyze(
        &self,
        lr: f64,
        batch: usize,
        opts: &AnalyzeOptions,
        hooks: Hooks,
    ) -> Result<AnalysisReport> {
        check_lr_scale(lr, &self.prep.reduction, &opts.orders)?;
        let mut r = analyze_prepared(&self.prep, lr, batch, self.sampling, opts, hooks)?;
        r.input = self.input.clone();
        r.column_layout = self.column_layout.clone();
        r.mean_gradient_ratio = self.mean_gradient_ratio;
        r.warnings = self.warnings();
        Ok(r)
    }

    /// The exact stable sets `S_k` and thresholds `η*_k` at batch size `batch` for
    /// [`ThresholdOptions::orders`] (DESIGN §7), with the Theorem 2 / Corollary 1 implied limits.
    ///
    /// ```
    /// use sgdstab::{Gradients, Hooks, Problem, ProblemOptions, ThresholdOptions};
    ///
    /// let a = Gradients::from_rows(&[vec![1.0], vec![2.0]])?; // H = 2.5
    /// let p = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none())?;
    /// let t = p.thresholds(2, &ThresholdOptions::default().orders([1]), Hooks::none())?;
    /// assert!((t.orders[0].set.lr_threshold.unwrap() - 0.8).abs() < 1e-12); // 2/λ_max(H)
    /// # Ok::<(), sgdstab::Error>(())
    /// ```
    pub fn thresholds(
        &self,
        batch: usize,
        opts: &ThresholdOptions,
        hooks: Hooks,
    ) -> Result<ThresholdReport> {
        let mut r = threshold_prepared(&self.prep, batch, self.sampling, opts, hooks)?;
        r.input = self.input.clone();
        r.column_layout = self.column_layout.clone();
        r.mean_gradient_ratio = self.mean_gradient_ratio;
        r.warnings = self.warnings();
        Ok(r)
    }

    /// The (η, B) diagram: `η*_k(B)` for [`DiagramOptions::orders`] and every batch size of
    /// [`DiagramOptions::batches`], with the Theorem 2 / Corollary 1 limits.
    ///
    /// ```
    /// use sgdstab::{DiagramOptions, Gradients, Hooks, Problem, ProblemOptions};
    ///
    /// let a = Gradients::from_rows(&[vec![1.0], vec![2.0]])?;
    /// let p = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none())?;
    /// let d = p.diagram(&DiagramOptions::default(), Hooks::none())?;
    /// assert_eq!(d.batches, vec![1, 2]);
    /// assert_eq!(d.rows.len(), 4); // k = 1, 2 × B = 1, 2
    /// # Ok::<(), sgdstab::Error>(())
    /// ```
    pub fn diagram(&self, opts: &DiagramOptions, hooks: Hooks) -> Result<DiagramReport> {
        let mut r = diagram_prepared(&self.prep, self.sampling, opts, hooks)?;
        r.input = self.input.clone();
        Ok(r)
    }
}

/// Refuses gradients whose scale over- or underflows the order-`max_order` quantities, instead
/// of a silently wrong report (a Gram matrix of `inf`, or of zeros read as "rank 0, every η
/// stable"): with `M = max |a_ij|`, the Gram matrix, the moment sums and the products in `T_k`
/// scale up to `(w·M²)^k` and down to `M^{2k}`, which must stay in the normal range
/// (`n·(w·M²)^k <= 2^1000`, `M^{2k} >= 2^-960`). The fix is exact and named in the message:
/// `T_k` depends on `η·a_i a_iᵀ` only, so multiplying the gradients by `2^m` and the learning
/// rate by `2^-2m` changes no verdict.
pub(crate) fn check_scale(
    largest_abs: f64,
    n: usize,
    w: usize,
    max_order: usize,
    context: &str,
) -> Result<()> {
    if largest_abs == 0.0 {
        return Ok(()); // all gradients zero: a legitimate (flat) input
    }
    let k = max_order.max(1);
    let l = largest_abs.log2();
    let top = k as f64 * (2.0 * l + (w.max(1) as f64).log2()) + (n.max(1) as f64).log2();
    let bottom = 2.0 * k as f64 * l;
    if top <= 1000.0 && bottom >= -960.0 {
        return Ok(());
    }
    // the power of 2 that brings max |a_ij| to about 1
    let m = -(l.round() as i64);
    let (size, what) = if top > 1000.0 {
        ("large", "overflow")
    } else {
        ("small", "underflow")
    };
    Err(Error::InvalidInput {
        context: context.to_string(),
        message: format!(
            "the gradients are too {size} for floating point: max |a_ij| = {largest_abs:e}, so the order-{k} quantities (a_ij^{}, the Gram matrix, T_{k}) {what}; multiply the gradients by 2^{m} and the learning rate by 2^{} (exact: T_k depends on η·a_i a_iᵀ only)",
            2 * k,
            -2 * m
        ),
    })
}

/// Refuses a learning rate whose products with the gradients over- or underflow: `η` must be a
/// normal float, and `(η·σ_max(A)²)^k` (the scale of `T_k`'s entries) must stay below `2^1000`
/// for the largest order `k`. Such an `η` is far outside any stable set (`η*_1 = 2/λ_max(H)`,
/// `λ_max(H) = σ_max(A)²/n`), so the message gives that threshold.
fn check_lr_scale(lr: f64, red: &SpanReduction, orders: &[usize]) -> Result<()> {
    if lr.is_finite() && lr > 0.0 && lr < f64::MIN_POSITIVE {
        return Err(Error::parameter(
            Param::LearningRate,
            format!("{lr:e}"),
            "the learning rate is subnormal (below 2.2e-308): η·a_i a_iᵀ loses its digits; scale the gradients down by 2^m and the learning rate up by 2^2m (exact)",
        ));
    }
    let g = red.gram_eigenvalues.first().copied().unwrap_or(0.0);
    let k = orders.iter().copied().max().unwrap_or(1).max(1) as f64;
    if g > 0.0 && lr.is_finite() && lr > 0.0 && k * (lr.log2() + g.log2()) > 1000.0 {
        return Err(Error::parameter(
            Param::LearningRate,
            format!("{lr:e}"),
            format!(
                "η·σ_max(A)² = 2^{:.0} overflows T_k up to k = {k} (its entries scale as (η·σ_max(A)²)^k); every η above η*_1 = 2/λ_max(H) = {:e} is unstable",
                lr.log2() + g.log2(),
                2.0 * red.n as f64 / g
            ),
        ));
    }
    Ok(())
}

/// The span reduction's peak ([`crate::memory::reduction`]) against the memory budget, before
/// the Gram matrix is allocated.
fn check_reduction_memory(n: usize, w: usize) -> Result<()> {
    let m = n.min(w);
    crate::memory::check(
        || format!("the span reduction of the {n} × {w} gradients (a {m} × {m} Gram matrix)"),
        crate::memory::reduction(n, w),
        crate::memory::default_budget_bytes(),
        &crate::memory::input_hint(),
    )
}

/// The in-memory path: rows as slices (an owned matrix, or a row-major `f64` view).
fn prepare_rows<'a>(
    n: usize,
    w: usize,
    row: impl Fn(usize) -> &'a [f64],
    matrix: faer::MatRef<'_, f64>,
    opts: &ProblemOptions,
) -> Result<Prepared> {
    check_reduction_memory(n, w)?;
    let largest = (0..n)
        .map(|i| row(i).iter().fold(0.0f64, |m, x| m.max(x.abs())))
        .fold(0.0f64, f64::max);
    check_scale(
        largest,
        n,
        w,
        opts.max_order,
        opts.input.as_deref().unwrap_or("gradients"),
    )?;
    let reduction = SpanReduction::from_matrix(matrix, opts.rank_tolerance)?;
    let stats = MomentStats::from_rows(n, w, &row, &opts.stat_orders());
    let mut sum = 0.0;
    for i in 0..n {
        for &x in row(i) {
            sum += x * x;
        }
    }
    Ok(Prepared {
        reduction,
        stats,
        flatness: sum / n as f64,
        streamed: false,
    })
}

/// The view path: a row-major `f64` view goes the in-memory way (after a finiteness check),
/// anything else through the block passes of [`view`].
fn prepare_columns(
    cols: &Columns,
    opts: &ProblemOptions,
    context: &str,
    hooks: Hooks,
) -> Result<Prepared> {
    check_orders(&opts.stat_orders())?;
    check_reduction_memory(cols.n, cols.w)?;
    if let Some(rm) = cols.only().and_then(GradientView::row_major_f64) {
        for i in 0..rm.n {
            if let Some(j) = rm.row(i).iter().position(|x| !x.is_finite()) {
                return Err(Error::InvalidInput {
                    context: context.to_string(),
                    message: format!(
                        "non-finite value {} at row {i}, column {j} (0-based)",
                        rm.row(i)[j]
                    ),
                });
            }
        }
        hooks.checkpoint()?;
        let prep = prepare_rows(rm.n, rm.w, |i| rm.row(i), rm.as_faer(), opts)?;
        hooks.checkpoint()?;
        return Ok(prep);
    }
    let r = reduce_blocks(
        cols,
        &opts.stat_orders(),
        opts.rank_tolerance,
        context,
        hooks,
    )?;
    Ok(Prepared {
        reduction: r.reduction,
        stats: r.stats,
        flatness: r.flatness,
        streamed: false,
    })
}

/// [`Problem::analyze`] on an in-memory matrix with default [`ProblemOptions`] (sampling
/// without replacement) covering the requested orders, without hooks.
///
/// ```
/// use sgdstab::{analyze, AnalyzeOptions, Gradients};
///
/// let a = Gradients::from_rows(&[vec![1.0, 0.5], vec![-0.5, 1.0], vec![0.25, 0.25]])?;
/// let report = analyze(&a, 0.5, 2, &AnalyzeOptions::default())?;
/// assert!(report.consistency.ok);
/// # Ok::<(), sgdstab::Error>(())
/// ```
pub fn analyze(
    grads: &Gradients,
    lr: f64,
    batch: usize,
    opts: &AnalyzeOptions,
) -> Result<AnalysisReport> {
    check_orders(&opts.orders)?;
    let max = opts.orders.iter().copied().max().unwrap_or(1);
    let popts = ProblemOptions::default().max_order(max);
    Problem::from_gradients(grads, &popts, Hooks::none())?.analyze(lr, batch, opts, Hooks::none())
}

/// [`Problem::thresholds`] on an in-memory matrix with default [`ProblemOptions`], without
/// hooks.
///
/// ```
/// use sgdstab::{thresholds, Gradients, ThresholdOptions};
///
/// let a = Gradients::from_rows(&[vec![1.0], vec![2.0]])?;
/// let t = thresholds(&a, 1, &ThresholdOptions::default())?;
/// assert_eq!(t.orders.len(), 2);
/// # Ok::<(), sgdstab::Error>(())
/// ```
pub fn thresholds(
    grads: &Gradients,
    batch: usize,
    opts: &ThresholdOptions,
) -> Result<ThresholdReport> {
    check_orders(&opts.orders)?;
    let max = opts.orders.iter().copied().max().unwrap_or(1);
    let popts = ProblemOptions::default().max_order(max);
    Problem::from_gradients(grads, &popts, Hooks::none())?.thresholds(batch, opts, Hooks::none())
}

/// [`Problem::diagram`] on an in-memory matrix with default [`ProblemOptions`], without hooks.
///
/// ```
/// use sgdstab::{diagram, DiagramOptions, Gradients};
///
/// let a = Gradients::from_rows(&[vec![1.0], vec![2.0], vec![0.5]])?;
/// let d = diagram(&a, &DiagramOptions::default().orders([2]).batches([1, 3]))?;
/// assert_eq!(d.rows.len(), 2);
/// # Ok::<(), sgdstab::Error>(())
/// ```
pub fn diagram(grads: &Gradients, opts: &DiagramOptions) -> Result<DiagramReport> {
    check_orders(&opts.orders)?;
    let max = opts.orders.iter().copied().max().unwrap_or(1);
    let popts = ProblemOptions::default().max_order(max);
    Problem::from_gradients(grads, &popts, Hooks::none())?.diagram(opts, Hooks::none())
}
