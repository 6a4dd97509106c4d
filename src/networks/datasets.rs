//! Built-in regression data sets: synthetic ones (including data on low-dimensional manifolds
//! in `R^d`, the setting of Theorem 6) and two real ones shipped as fixtures (no downloads).
//!
//! Every set is `n` inputs `x_i ∈ R^d` (the rows of an `n × d` row-major matrix) with targets
//! `y_i = f*(x_i)`, deterministic for a given seed.
//!
//! | kind | inputs | target |
//! |---|---|---|
//! | `circle` | `x = Q (cos θ, sin θ)`, `Q` a random `d × 2` orthonormal frame (a random rotation of the unit circle into `R^d`, `d >= 2`); `θ` on a jittered grid `2π(i + u_i/2)/n`, `u_i ~ U(0,1)` | `sin θ + ½ cos 2θ` |
//! | `torus` | `x = Q (cos a, sin a, cos b, sin b)/√2`, `Q` a random `d × 4` frame (`d >= 4`): the flat 2-torus; `(a, b)` i.i.d. uniform | `sin(a + b) + ½ cos(a − 2b)` |
//! | `thick-torus` | the torus points plus an offset drawn uniformly from the `d`-ball of radius [`THICK_TORUS_RADIUS`] (full-dimensional: a solid neighbourhood of the torus) | the torus target extended to `R^d` as the polynomial `F(Qᵀx)` below |
//! | `gaussian` | `x ~ N(0, I_d / d)` (no manifold structure) | `sin(3 u·x)`, `u ~ N(0, I_d)` |
//! | `iris` | Fisher's Iris (fixture `fixtures/iris.csv`, CC BY 4.0): sepal length, sepal width, petal length, each standardised over all 150 rows (`d = 3`) | petal width in cm minus its mean |
//! | `digits` | the UCI handwritten digits as scikit-learn bundles them (fixture `fixtures/digits/`, CC BY 4.0; 1797 images of 8×8 pixels, grey levels 0..16): pixel `8·r + c` of the image divided by 16, so `x ∈ [0, 1]^64` (`d = 64`) | `+1` for an even digit, `−1` for an odd one |
//!
//! Digits split (fixed, not seeded): the training set is the first `n <= 1000` of rows
//! `0..1000` ([`DIGITS_TRAIN_ROWS`]); the held-out test set (Section 5) is rows `1000..1797`,
//! never used for training. The classes are balanced in both parts (496 of the first 1000 rows
//! and 395 of the last 797 are even). The scalar target makes the paper's single-output
//! `f(x, W)` and square loss apply unchanged: training to interpolation fits `f(x_i) = ±1`.
//!
//! Iris subsets: `n` rows at positions `⌊j·150/n⌋`, `j = 0..n`, moving on to the next row whose
//! inputs differ from every row already taken (the data repeat some measurements, which no
//! function can interpolate with different targets).
//!
//! # The distribution, held-out test sets and the target in `R^d` ([`Distribution`])
//!
//! Section 5 of the paper needs test points from the same distribution `μ` and bounds on the
//! target `f*` and its gradient. [`Distribution::new`] redraws, from the data set's seed, exactly
//! the random frame `Q` (resp. direction `u`) that [`generate`] used, so:
//!
//! - [`Distribution::test_set`] draws held-out points **i.i.d.** from `μ` on an independent
//!   random stream ([`TEST_STREAM`]): circle `θ ~ U[0, 2π)` (the training angles are a jittered
//!   grid, i.e. a stratified sample of the same uniform law), torus `(a, b) ~ U[0, 2π)²`,
//!   thick torus the same plus the ball offset, gaussian `N(0, I_d/d)`; for `iris` the test set
//!   is every row of the 150 not used for training (its inputs may repeat training inputs: the
//!   measurements repeat); for `digits` it is rows `1000..1797`.
//! - [`Distribution::target`] and [`Distribution::target_gradient`] evaluate `f*(x) = F(Qᵀx)`
//!   anywhere in `R^d`, with `F` the polynomial that equals the target on the manifold:
//!   circle `F(q) = q_2 + ½(q_1² − q_2²)` (`sin θ = q_2`, `cos 2θ = q_1² − q_2²`); torus
//!   `F(q) = 2(q_2 q_3 + q_1 q_4) + √2 (q_1(q_3² − q_4²) + 2 q_2 q_3 q_4)`
//!   (`cos a = √2 q_1`, `sin a = √2 q_2`, `cos b = √2 q_3`, `sin b = √2 q_4`); gaussian
//!   `sin(3 u·x)`.
//! - [`Distribution::gradient_bound`] is Theorem 6's `M₂ = sup ‖∇f*‖_2` over the convex hull of
//!   the support (where the segments between a test point and its nearest training point lie):
//!   circle `∇F = (q_1, 1 − q_2)`, `sup_{‖q‖<=1} = 2` (exact, at `q = (0, −1)`); torus
//!   `‖∇F‖ <= 2‖q‖ + √(8/3)‖q‖²` (the quadratic and cubic parts separately:
//!   `‖∇(cubic)‖² = 2(|s|⁴ + 4|z|²|s|²)` with `|z|² = q_1² + q_2²`, `|s|² = q_3² + q_4²`, at most
//!   `8R⁴/3` for `‖q‖ <= R`), so `2 + √(8/3)` on the hull (`‖q‖ <= 1`) — an upper bound, not
//!   attained; thick torus the same with `R = 1 + THICK_TORUS_RADIUS`; gaussian `3‖u‖_2` (exact);
//!   iris and digits `None` (no target function is known; repeated iris inputs even have
//!   different targets).

use crate::error::{Error, Param, Result};
use crate::random::SplitMix64;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;
use std::fmt;
use std::str::FromStr;

/// The Iris fixture, compiled in (see `fixtures/make_iris.py` for its provenance).
pub const IRIS_CSV: &str = include_str!("../../fixtures/iris.csv");

/// Rows in the Iris fixture.
pub const IRIS_ROWS: usize = 150;

/// The digits images, compiled in: NumPy `.npy`, uint8, shape `(1797, 64)`, C order, values
/// `0..=16` (see `fixtures/digits/README.md` for the provenance and checksums).
pub const DIGITS_IMAGES_NPY: &[u8] = include_bytes!("../../fixtures/digits/digits_images.npy");

/// The digits labels, compiled in: NumPy `.npy`, uint8, shape `(1797,)`, values `0..=9`.
pub const DIGITS_LABELS_NPY: &[u8] = include_bytes!("../../fixtures/digits/digits_labels.npy");

/// Images in the digits fixture.
pub const DIGITS_ROWS: usize = 1797;

/// Pixels per digits image (8 × 8), the input dimension `d` of the `digits` data set.
pub const DIGITS_PIXELS: usize = 64;

/// The digits rows reserved for training (rows `0..1000`); the rest are the held-out test set.
pub const DIGITS_TRAIN_ROWS: usize = 1000;

/// Largest digits grey level (inputs are divided by it).
pub const DIGITS_MAX_LEVEL: u8 = 16;

/// Which data set.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// The unit circle rotated into `R^d` (a 1-D manifold; the default).
    #[default]
    Circle,
    /// The flat 2-torus rotated into `R^d` (a 2-D manifold).
    Torus,
    /// The torus plus a uniform offset in the `d`-ball of radius [`THICK_TORUS_RADIUS`]:
    /// full-dimensional data with the torus target (extended to `R^d`).
    ThickTorus,
    /// Gaussian inputs, full-dimensional.
    Gaussian,
    /// Fisher's Iris (real data, `d = 3`).
    Iris,
    /// The UCI handwritten digits (real data, `d = 64`, target ±1 for even/odd).
    Digits,
}

impl DatasetKind {
    /// Every kind.
    pub const ALL: [DatasetKind; 6] = [
        DatasetKind::Circle,
        DatasetKind::Torus,
        DatasetKind::ThickTorus,
        DatasetKind::Gaussian,
        DatasetKind::Iris,
        DatasetKind::Digits,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Circle => "circle",
            DatasetKind::Torus => "torus",
            DatasetKind::ThickTorus => "thick-torus",
            DatasetKind::Gaussian => "gaussian",
            DatasetKind::Iris => "iris",
            DatasetKind::Digits => "digits",
        }
    }

    /// The input dimension of a real data set (`iris` 3, `digits` 64); `None` for the synthetic
    /// ones, whose dimension is [`DatasetSpec::dim`].
    pub fn fixed_dim(self) -> Option<usize> {
        match self {
            DatasetKind::Iris => Some(3),
            DatasetKind::Digits => Some(DIGITS_PIXELS),
            _ => None,
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown data set '{s}' (expected circle, torus, thick-torus, gaussian, iris or digits)")
            })
    }
}

/// How to make a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// The kind.
    pub kind: DatasetKind,
    /// Number of points `n >= 1`.
    pub n: usize,
    /// Ambient dimension `d` (ignored for `iris` and `digits`, see [`DatasetKind::fixed_dim`]).
    pub dim: usize,
    /// Seed of the synthetic sampling and rotation.
    pub seed: u64,
}

/// A regression data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// Short description, e.g. `"circle in R^8 (n = 16, seed 0)"`.
    pub name: String,
    /// `n`.
    pub n: usize,
    /// `d`.
    pub d: usize,
    /// Inputs, `n × d` row-major.
    pub x: Vec<f64>,
    /// Targets, length `n`.
    pub y: Vec<f64>,
}

impl Dataset {
    /// Wraps data, checking shapes, finiteness and `n, d >= 1`.
    pub fn new(name: String, n: usize, d: usize, x: Vec<f64>, y: Vec<f64>) -> Result<Self> {
        let bad = |message: String| Error::InvalidInput {
            context: name.clone(),
            message,
        };
        if n == 0 || d == 0 {
            return Err(bad(format!("the data set is {n} × {d}")));
        }
        if x.len() != n * d || y.len() != n {
            return Err(bad(format!(
                "{} input values and {} targets for n = {n}, d = {d}",
                x.len(),
                y.len()
            )));
        }
        if let Some(p) = x.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "non-finite input {} at row {}, column {}",
                x[p],
                p / d,
                p % d
            )));
        }
        if let Some(p) = y.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("non-finite target {} at row {p}", y[p])));
        }
        Ok(Dataset { name, n, d, x, y })
    }

    /// Input `i` (length `d`).
    pub fn x_row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }
}

/// Largest `n` for synthetic sets (keeps the analyzer's problems meaningful and memory small).
pub const MAX_POINTS: usize = 1_000_000;

/// The random stream of a data set's own draws (frame, direction, training points).
pub const DATA_STREAM: u64 = 0x4441_5441;

/// The random stream of held-out test points ([`Distribution::test_set`]), independent of
/// [`DATA_STREAM`].
pub const TEST_STREAM: u64 = 0x5445_5354;

/// Radius of the ball from which the `thick-torus` offsets are drawn (uniformly).
pub const THICK_TORUS_RADIUS: f64 = 0.5;

/// Makes the data set described by `spec`.
pub fn generate(spec: &DatasetSpec) -> Result<Dataset> {
    check_points(Param::Points, spec.n, spec)?;
    match spec.kind {
        DatasetKind::Iris => return iris(spec.n),
        DatasetKind::Digits => return digits(spec.n),
        _ => {}
    }
    let (dist, mut rng) = Distribution::draw(spec)?;
    let (n, d) = (spec.n, spec.dim);
    let mut x = vec![0.0; n * d];
    let mut y = vec![0.0; n];
    for i in 0..n {
        // the circle's training angles are a jittered grid (a stratified uniform sample)
        let grid = (spec.kind == DatasetKind::Circle).then_some((i, n));
        y[i] = dist.sample(&mut rng, grid, &mut x[i * d..(i + 1) * d]);
    }
    Dataset::new(
        format!(
            "{} in R^{d} (n = {n}, seed {})",
            spec.kind.name(),
            spec.seed
        ),
        n,
        d,
        x,
        y,
    )
}

/// Checks `1 <= count <= MAX_POINTS` and that `count × d` values fit the memory budget.
fn check_points(flag: Param, count: usize, spec: &DatasetSpec) -> Result<()> {
    if count == 0 || count > MAX_POINTS {
        return Err(Error::parameter(
            flag,
            count,
            format!("the number of points must be in 1..={MAX_POINTS}"),
        ));
    }
    let values = (count as u128) * (spec.dim as u128);
    let budget = crate::memory::default_budget_bytes();
    if spec.kind.fixed_dim().is_none() && values * 8 > budget {
        return Err(Error::too_large(
            format!(
                "the {} data set ({count} × {} inputs)",
                spec.kind.name(),
                spec.dim
            ),
            values * 8,
            budget,
            &format!("lower {} or {}", flag.quoted(), Param::Dim.quoted()),
        ));
    }
    Ok(())
}

/// The data distribution `μ` and target `f*` of a built-in data set (see the module docs):
/// the frame `Q` (`d × c` row-major, orthonormal columns) or the direction `u`, redrawn from
/// the seed exactly as [`generate`] draws them.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    spec: DatasetSpec,
    /// `Q`, `d × c` row-major (`c` = 2 circle, 4 torus), or `u` (gaussian), or empty (iris).
    frame: Vec<f64>,
}

/// Theorem 6's `M₂` for a data set's target, with how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GradientBound {
    /// The bound on `‖∇f*‖_2` over the convex hull of the support.
    pub value: f64,
    /// Whether the supremum is attained (`true`) or `value` is only an upper bound.
    pub exact: bool,
    /// The formula, for reports.
    pub formula: &'static str,
}

impl Distribution {
    /// The distribution of `spec`'s data set (`spec.n` matters only for `iris` and `digits`,
    /// whose test sets are the rows not used for training).
    pub fn new(spec: &DatasetSpec) -> Result<Self> {
        match spec.kind {
            DatasetKind::Iris => {
                iris_split(spec.n)?;
            }
            DatasetKind::Digits => {
                check_digits_n(spec.n)?;
            }
            _ => return Ok(Distribution::draw(spec)?.0),
        }
        Ok(Distribution {
            spec: *spec,
            frame: Vec::new(),
        })
    }

    /// The frame (or direction) and the data stream positioned after it.
    fn draw(spec: &DatasetSpec) -> Result<(Self, SplitMix64)> {
        let d = spec.dim;
        let need_dim = |min: usize| -> Result<()> {
            if d < min || d > 100_000 {
                return Err(Error::parameter(
                    Param::Dim,
                    d,
                    format!(
                        "the {} data set needs {min} <= d <= 100000",
                        spec.kind.name()
                    ),
                ));
            }
            Ok(())
        };
        let mut rng = SplitMix64::derive(spec.seed, DATA_STREAM);
        let frame = match spec.kind {
            DatasetKind::Circle => {
                need_dim(2)?;
                random_frame(d, 2, &mut rng)
            }
            DatasetKind::Torus | DatasetKind::ThickTorus => {
                need_dim(4)?;
                random_frame(d, 4, &mut rng)
            }
            DatasetKind::Gaussian => {
                need_dim(1)?;
                (0..d).map(|_| rng.normal()).collect()
            }
            DatasetKind::Iris | DatasetKind::Digits => Vec::new(),
        };
        Ok((Distribution { spec: *spec, frame }, rng))
    }

    /// The specification it was made from.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// Draws one point into `x` (length `d`) and returns its target. `grid = Some((i, n))`
    /// draws the circle's angle from cell `i` of `n` (training), else uniformly.
    fn sample(&self, rng: &mut SplitMix64, grid: Option<(usize, usize)>, x: &mut [f64]) -> f64 {
        let d = self.spec.dim;
        match self.spec.kind {
            DatasetKind::Circle => {
                let t = match grid {
                    Some((i, n)) => TAU * (i as f64 + 0.5 * rng.uniform()) / n as f64,
                    None => TAU * rng.uniform(),
                };
                embed(&self.frame, d, &[t.cos(), t.sin()], x);
                t.sin() + 0.5 * (2.0 * t).cos()
            }
            DatasetKind::Torus | DatasetKind::ThickTorus => {
                let a = TAU * rng.uniform();
                let b = TAU * rng.uniform();
                let s = std::f64::consts::FRAC_1_SQRT_2;
                let p = [s * a.cos(), s * a.sin(), s * b.cos(), s * b.sin()];
                embed(&self.frame, d, &p, x);
                if self.spec.kind == DatasetKind::Torus {
                    return (a + b).sin() + 0.5 * (a - 2.0 * b).cos();
                }
                // uniform in the d-ball: Gaussian direction, radius R·U^{1/d}
                let g: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                let norm = g
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    .sqrt()
                    .max(f64::MIN_POSITIVE);
                let r = THICK_TORUS_RADIUS * rng.uniform().powf(1.0 / d as f64);
                for (xi, gi) in x.iter_mut().zip(&g) {
                    *xi += r * gi / norm;
                }
                self.target(x).unwrap_or(0.0)
            }
            DatasetKind::Gaussian => {
                let sd = 1.0 / (d as f64).sqrt();
                for xi in x.iter_mut() {
                    *xi = sd * rng.normal();
                }
                self.target(x).unwrap_or(0.0)
            }
            // invariant: the real sets never sample (their test sets are the held-out rows)
            DatasetKind::Iris | DatasetKind::Digits => 0.0,
        }
    }

    /// A held-out test set of `count` points drawn i.i.d. from `μ` on the stream
    /// [`TEST_STREAM`] (independent of the training draws); for `iris`, every row not used for
    /// training, for `digits` rows `1000..1797` (`count` is then ignored).
    pub fn test_set(&self, count: usize) -> Result<Dataset> {
        let spec = &self.spec;
        if spec.kind == DatasetKind::Digits {
            return digits_rows(
                DIGITS_TRAIN_ROWS..DIGITS_ROWS,
                format!(
                    "digits held-out rows {DIGITS_TRAIN_ROWS}..{DIGITS_ROWS} ({} images, not in the n = {} training rows)",
                    DIGITS_ROWS - DIGITS_TRAIN_ROWS,
                    spec.n
                ),
            );
        }
        if spec.kind == DatasetKind::Iris {
            let (_, held_out) = iris_split(spec.n)?;
            let rows = iris_standardised()?;
            let mut x = Vec::with_capacity(3 * held_out.len());
            let mut y = Vec::with_capacity(held_out.len());
            for &i in &held_out {
                x.extend_from_slice(&rows[i][..3]);
                y.push(rows[i][3]);
            }
            return Dataset::new(
                format!(
                    "iris held-out rows ({} of {IRIS_ROWS}, not in the n = {} training subset)",
                    held_out.len(),
                    spec.n
                ),
                held_out.len(),
                3,
                x,
                y,
            );
        }
        check_points(Param::TestPoints, count, spec)?;
        let d = spec.dim;
        let mut rng = SplitMix64::derive(spec.seed, TEST_STREAM);
        let mut x = vec![0.0; count * d];
        let mut y = vec![0.0; count];
        for i in 0..count {
            y[i] = self.sample(&mut rng, None, &mut x[i * d..(i + 1) * d]);
        }
        Dataset::new(
            format!(
                "{} in R^{d}: {count} test points (seed {}, test stream)",
                spec.kind.name(),
                spec.seed
            ),
            count,
            d,
            x,
            y,
        )
    }

    /// `q = Qᵀx` (length `c`).
    fn project(&self, x: &[f64], c: usize) -> Vec<f64> {
        let d = self.spec.dim;
        (0..c)
            .map(|j| (0..d).map(|i| self.frame[i * c + j] * x[i]).sum())
            .collect()
    }

    /// `f*(x)` for any `x ∈ R^d` (the polynomial extension `F(Qᵀx)` for the manifolds, see
    /// the module docs); `None` for `iris`, `digits` or a wrong length.
    pub fn target(&self, x: &[f64]) -> Option<f64> {
        if x.len() != self.spec.dim {
            return None;
        }
        match self.spec.kind {
            DatasetKind::Circle => {
                let q = self.project(x, 2);
                Some(q[1] + 0.5 * (q[0] * q[0] - q[1] * q[1]))
            }
            DatasetKind::Torus | DatasetKind::ThickTorus => {
                let q = self.project(x, 4);
                Some(
                    2.0 * (q[1] * q[2] + q[0] * q[3])
                        + std::f64::consts::SQRT_2
                            * (q[0] * (q[2] * q[2] - q[3] * q[3]) + 2.0 * q[1] * q[2] * q[3]),
                )
            }
            DatasetKind::Gaussian => {
                let ux: f64 = self.frame.iter().zip(x).map(|(a, b)| a * b).sum();
                Some((3.0 * ux).sin())
            }
            DatasetKind::Iris | DatasetKind::Digits => None,
        }
    }

    /// `∇f*(x)` into `out` (length `d`); `false` (and `out` untouched) for `iris`, `digits` or
    /// wrong lengths.
    pub fn target_gradient(&self, x: &[f64], out: &mut [f64]) -> bool {
        let d = self.spec.dim;
        if x.len() != d || out.len() != d {
            return false;
        }
        let g: Vec<f64> = match self.spec.kind {
            DatasetKind::Circle => {
                let q = self.project(x, 2);
                vec![q[0], 1.0 - q[1]]
            }
            DatasetKind::Torus | DatasetKind::ThickTorus => {
                let q = self.project(x, 4);
                let r2 = std::f64::consts::SQRT_2;
                vec![
                    2.0 * q[3] + r2 * (q[2] * q[2] - q[3] * q[3]),
                    2.0 * q[2] + 2.0 * r2 * q[2] * q[3],
                    2.0 * q[1] + 2.0 * r2 * (q[0] * q[2] + q[1] * q[3]),
                    2.0 * q[0] + 2.0 * r2 * (q[1] * q[2] - q[0] * q[3]),
                ]
            }
            DatasetKind::Gaussian => {
                let ux: f64 = self.frame.iter().zip(x).map(|(a, b)| a * b).sum();
                let c = 3.0 * (3.0 * ux).cos();
                for (o, u) in out.iter_mut().zip(&self.frame) {
                    *o = c * u;
                }
                return true;
            }
            DatasetKind::Iris | DatasetKind::Digits => return false,
        };
        // ∇_x F(Qᵀx) = Q ∇F(q)
        let c = g.len();
        for i in 0..d {
            out[i] = (0..c).map(|j| self.frame[i * c + j] * g[j]).sum();
        }
        true
    }

    /// Theorem 6's `M₂` (see the module docs); `None` for `iris` and `digits`.
    pub fn gradient_bound(&self) -> Option<GradientBound> {
        let torus = |r: f64| 2.0 * r + (8.0f64 / 3.0).sqrt() * r * r;
        match self.spec.kind {
            DatasetKind::Circle => Some(GradientBound {
                value: 2.0,
                exact: true,
                formula: "sup over the unit disk of ‖(q_1, 1 − q_2)‖ = 2, at q = (0, −1)",
            }),
            DatasetKind::Torus => Some(GradientBound {
                value: torus(1.0),
                exact: false,
                formula: "2R + √(8/3)R² with R = 1 (‖Qᵀx‖ <= 1 on the hull of the torus)",
            }),
            DatasetKind::ThickTorus => Some(GradientBound {
                value: torus(1.0 + THICK_TORUS_RADIUS),
                exact: false,
                formula: "2R + √(8/3)R² with R = 1 + 1/2 (torus plus the offset ball)",
            }),
            DatasetKind::Gaussian => Some(GradientBound {
                value: 3.0 * self.frame.iter().map(|v| v * v).sum::<f64>().sqrt(),
                exact: true,
                formula: "3‖u‖_2, attained where cos(3u·x) = ±1",
            }),
            DatasetKind::Iris | DatasetKind::Digits => None,
        }
    }
}

/// The Iris regression subset of `n` rows (see the module docs).
pub fn iris(n: usize) -> Result<Dataset> {
    let (taken, _) = iris_split(n)?;
    let rows = iris_standardised()?;
    let mut x = Vec::with_capacity(3 * n);
    let mut y = Vec::with_capacity(n);
    for &i in &taken {
        x.extend_from_slice(&rows[i][..3]);
        y.push(rows[i][3]);
    }
    Dataset::new(format!("iris (n = {n} of {IRIS_ROWS})"), n, 3, x, y)
}

/// The `digits` training set: the first `n` of rows `0..1000` (`1 <= n <= 1000`), inputs
/// `pixels / 16`, target `±1` for even/odd digits (see the module docs).
pub fn digits(n: usize) -> Result<Dataset> {
    check_digits_n(n)?;
    digits_rows(
        0..n,
        format!("digits (n = {n}: rows 0..{n}; 8×8 pixels / 16, target +1 even, −1 odd)"),
    )
}

fn check_digits_n(n: usize) -> Result<()> {
    if n == 0 || n > DIGITS_TRAIN_ROWS {
        return Err(Error::parameter(
            Param::Points,
            n,
            format!("the digits data set trains on at most the first {DIGITS_TRAIN_ROWS} rows (the other {} are held out)", DIGITS_ROWS - DIGITS_TRAIN_ROWS),
        ));
    }
    Ok(())
}

/// The digits rows `rows` as a data set (inputs scaled, targets ±1).
fn digits_rows(rows: std::ops::Range<usize>, name: String) -> Result<Dataset> {
    let (images, labels) = digits_raw()?;
    let n = rows.len();
    let mut x = Vec::with_capacity(n * DIGITS_PIXELS);
    let mut y = Vec::with_capacity(n);
    for i in rows {
        x.extend(
            images[i * DIGITS_PIXELS..(i + 1) * DIGITS_PIXELS]
                .iter()
                .map(|&p| f64::from(p) / f64::from(DIGITS_MAX_LEVEL)),
        );
        y.push(if labels[i] % 2 == 0 { 1.0 } else { -1.0 });
    }
    Dataset::new(name, n, DIGITS_PIXELS, x, y)
}

/// The embedded digits fixture, validated: the images (`1797 × 64` uint8, row-major, values
/// `0..=16`) and the labels (`1797` uint8, values `0..=9`).
pub fn digits_raw() -> Result<(&'static [u8], &'static [u8])> {
    let images = npy_u8_payload(
        DIGITS_IMAGES_NPY,
        &format!("({DIGITS_ROWS}, {DIGITS_PIXELS})"),
        DIGITS_ROWS * DIGITS_PIXELS,
        "fixtures/digits/digits_images.npy",
    )?;
    let labels = npy_u8_payload(
        DIGITS_LABELS_NPY,
        &format!("({DIGITS_ROWS},)"),
        DIGITS_ROWS,
        "fixtures/digits/digits_labels.npy",
    )?;
    let bad = |path: &str, message: String| Error::Format {
        path: path.into(),
        message,
    };
    if let Some(p) = images.iter().position(|&v| v > DIGITS_MAX_LEVEL) {
        return Err(bad(
            "fixtures/digits/digits_images.npy",
            format!("pixel value {} at index {p} exceeds 16", images[p]),
        ));
    }
    if let Some(p) = labels.iter().position(|&v| v > 9) {
        return Err(bad(
            "fixtures/digits/digits_labels.npy",
            format!("label {} at row {p} exceeds 9", labels[p]),
        ));
    }
    Ok((images, labels))
}

/// The payload of a NumPy format 1.0 `.npy` file holding a C-order uint8 array of the given
/// shape (as NumPy writes it, e.g. `"(1797, 64)"`), `len` bytes long.
fn npy_u8_payload<'a>(bytes: &'a [u8], shape: &str, len: usize, path: &str) -> Result<&'a [u8]> {
    let bad = |message: String| Error::Format {
        path: path.into(),
        message,
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" || bytes[6] != 1 {
        return Err(bad("not a NumPy format 1.x file".into()));
    }
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let start = 10 + header_len;
    let header = bytes
        .get(10..start)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated or non-text header".into()))?;
    for want in [
        "'descr': '|u1'".to_string(),
        "'fortran_order': False".to_string(),
        format!("'shape': {shape}"),
    ] {
        if !header.contains(&want) {
            return Err(bad(format!("header {header:?} lacks {want}")));
        }
    }
    if bytes.len() - start != len {
        return Err(bad(format!(
            "{} data bytes, expected {len}",
            bytes.len() - start
        )));
    }
    Ok(&bytes[start..])
}

/// The 150 rows with the three inputs standardised over all rows and the target centred.
fn iris_standardised() -> Result<Vec<[f64; 4]>> {
    let rows = iris_rows()?;
    let mut mean = [0.0; 4];
    for r in &rows {
        for c in 0..4 {
            mean[c] += r[c] / rows.len() as f64;
        }
    }
    let mut sd = [0.0; 3];
    for r in &rows {
        for c in 0..3 {
            sd[c] += (r[c] - mean[c]).powi(2) / rows.len() as f64;
        }
    }
    let sd = sd.map(f64::sqrt);
    Ok(rows
        .iter()
        .map(|r| {
            [
                (r[0] - mean[0]) / sd[0],
                (r[1] - mean[1]) / sd[1],
                (r[2] - mean[2]) / sd[2],
                r[3] - mean[3],
            ]
        })
        .collect())
}

/// The row indices of the `n`-row training subset (in selection order) and of the held-out
/// rows (ascending).
pub fn iris_split(n: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let rows = iris_rows()?;
    let distinct = {
        let mut seen: Vec<[f64; 3]> = Vec::new();
        for r in &rows {
            let key = [r[0], r[1], r[2]];
            if !seen.contains(&key) {
                seen.push(key);
            }
        }
        seen.len()
    };
    if n == 0 || n > distinct {
        return Err(Error::parameter(
            Param::Points,
            n,
            format!("the iris data set has {distinct} rows with distinct inputs"),
        ));
    }
    let mut taken: Vec<usize> = Vec::with_capacity(n);
    for j in 0..n {
        let mut i = j * rows.len() / n;
        loop {
            let dup = taken.contains(&i)
                || taken
                    .iter()
                    .any(|&t| rows[t][..3] == rows[i % rows.len()][..3]);
            if !dup {
                break;
            }
            i = (i + 1) % rows.len();
        }
        taken.push(i);
    }
    let held_out = (0..rows.len()).filter(|i| !taken.contains(i)).collect();
    Ok((taken, held_out))
}

/// The fixture's 150 rows `[sepal length, sepal width, petal length, petal width]`.
fn iris_rows() -> Result<Vec<[f64; 4]>> {
    let bad = |message: String| Error::Format {
        path: "fixtures/iris.csv".into(),
        message,
    };
    let mut rows = Vec::new();
    for line in IRIS_CSV.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("sepal") {
            continue;
        }
        let vals: Vec<f64> = line
            .split(',')
            .take(4)
            .map(|s| s.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(format!("line '{line}': {e}")))?;
        if vals.len() != 4 {
            return Err(bad(format!("line '{line}' has fewer than 4 values")));
        }
        rows.push([vals[0], vals[1], vals[2], vals[3]]);
    }
    if rows.len() != IRIS_ROWS {
        return Err(bad(format!("{} rows, expected {IRIS_ROWS}", rows.len())));
    }
    Ok(rows)
}

/// A random `d × c` matrix with orthonormal columns (Gram–Schmidt of Gaussian columns),
/// row-major; `c <= d`.
pub fn random_frame(d: usize, c: usize, rng: &mut SplitMix64) -> Vec<f64> {
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(c);
    while cols.len() < c {
        let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        // twice is enough (Kahan–Parlett)
        for _ in 0..2 {
            for u in &cols {
                let p: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                for (vi, ui) in v.iter_mut().zip(u) {
                    *vi -= p * ui;
                }
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-8 {
            cols.push(v.into_iter().map(|a| a / norm).collect());
        }
    }
    let mut q = vec![0.0; d * c];
    for (j, col) in cols.iter().enumerate() {
        for i in 0..d {
            q[i * c + j] = col[i];
        }
    }
    q
}

/// `out = Q p` for a row-major `d × c` frame.
fn embed(q: &[f64], d: usize, p: &[f64], out: &mut [f64]) {
    let c = p.len();
    for i in 0..d {
        out[i] = (0..c).map(|j| q[i * c + j] * p[j]).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: DatasetKind, n: usize, dim: usize) -> DatasetSpec {
        DatasetSpec {
            kind,
            n,
            dim,
            seed: 3,
        }
    }

    #[test]
    fn circle_points_lie_on_a_rotated_unit_circle() {
        let ds = generate(&spec(DatasetKind::Circle, 12, 7)).unwrap();
        assert_eq!((ds.n, ds.d), (12, 7));
        // unit norm, and all points in one 2-D plane: the 12 × 7 matrix has rank 2
        for i in 0..ds.n {
            let nrm: f64 = ds.x_row(i).iter().map(|v| v * v).sum();
            assert!((nrm - 1.0).abs() < 1e-14);
        }
        let m = nalgebra::DMatrix::from_row_slice(12, 7, &ds.x);
        let sv = m.singular_values();
        let mut s: Vec<f64> = sv.iter().copied().collect();
        s.sort_by(|a, b| b.total_cmp(a));
        assert!(s[1] > 1.0 && s[2] < 1e-12, "{s:?}");
        assert_eq!(ds, generate(&spec(DatasetKind::Circle, 12, 7)).unwrap());
    }

    #[test]
    fn torus_points_have_norm_one_and_rank_four() {
        let ds = generate(&spec(DatasetKind::Torus, 20, 9)).unwrap();
        let m = nalgebra::DMatrix::from_row_slice(20, 9, &ds.x);
        let mut s: Vec<f64> = m.singular_values().iter().copied().collect();
        s.sort_by(|a, b| b.total_cmp(a));
        assert!(s[3] > 0.1 && s[4] < 1e-12, "{s:?}");
        for i in 0..ds.n {
            let nrm: f64 = ds.x_row(i).iter().map(|v| v * v).sum();
            assert!((nrm - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn frame_is_orthonormal() {
        let mut g = SplitMix64::new(1);
        let q = random_frame(6, 3, &mut g);
        for a in 0..3 {
            for b in 0..3 {
                let p: f64 = (0..6).map(|i| q[i * 3 + a] * q[i * 3 + b]).sum();
                assert!((p - if a == b { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn iris_fixture_reads_and_subsets_are_distinct() {
        let rows = iris_rows().unwrap();
        // first and last rows of Fisher's data
        assert_eq!(rows[0], [5.1, 3.5, 1.4, 0.2]);
        assert_eq!(rows[149], [5.9, 3.0, 5.1, 1.8]);
        let ds = iris(16).unwrap();
        assert_eq!((ds.n, ds.d), (16, 3));
        for i in 0..16 {
            for j in 0..i {
                assert_ne!(ds.x_row(i), ds.x_row(j));
            }
        }
        assert!(iris(0).is_err());
        assert!(iris(150).is_err()); // duplicates exist, so fewer than 150 distinct inputs
    }

    /// Central differences of `f*` against [`Distribution::target_gradient`].
    fn check_gradient(dist: &Distribution, x: &[f64]) {
        let d = x.len();
        let mut g = vec![0.0; d];
        assert!(dist.target_gradient(x, &mut g));
        let h = 1e-6;
        for j in 0..d {
            let mut p = x.to_vec();
            let mut m = x.to_vec();
            p[j] += h;
            m[j] -= h;
            let fd = (dist.target(&p).unwrap() - dist.target(&m).unwrap()) / (2.0 * h);
            assert!((fd - g[j]).abs() < 1e-7, "coordinate {j}: {fd} vs {}", g[j]);
        }
    }

    #[test]
    fn distribution_reproduces_the_training_set_and_the_target() {
        for kind in [
            DatasetKind::Circle,
            DatasetKind::Torus,
            DatasetKind::ThickTorus,
            DatasetKind::Gaussian,
        ] {
            let sp = spec(kind, 25, 7);
            let train = generate(&sp).unwrap();
            let dist = Distribution::new(&sp).unwrap();
            // the target in R^d (the polynomial extension for the manifolds) equals the
            // angle formula on the training points
            for i in 0..train.n {
                let t = dist.target(train.x_row(i)).unwrap();
                assert!(
                    (t - train.y[i]).abs() < 1e-13,
                    "{kind}: {t} vs {}",
                    train.y[i]
                );
            }
            let test = dist.test_set(40).unwrap();
            assert_eq!((test.n, test.d), (40, 7));
            assert_eq!(test, dist.test_set(40).unwrap());
            for j in 0..test.n {
                let t = dist.target(test.x_row(j)).unwrap();
                assert!((t - test.y[j]).abs() < 1e-13);
                assert_ne!(test.x_row(j), train.x_row(j % train.n));
            }
            let mut g = SplitMix64::new(9);
            for _ in 0..5 {
                let x: Vec<f64> = (0..7).map(|_| g.normal()).collect();
                check_gradient(&dist, &x);
            }
        }
    }

    #[test]
    fn test_points_share_the_manifold() {
        // the torus test points lie in the training points' 4-D subspace, at norm 1
        let sp = spec(DatasetKind::Torus, 20, 9);
        let train = generate(&sp).unwrap();
        let test = Distribution::new(&sp).unwrap().test_set(30).unwrap();
        let mut all = train.x.clone();
        all.extend_from_slice(&test.x);
        let m = nalgebra::DMatrix::from_row_slice(50, 9, &all);
        let mut s: Vec<f64> = m.singular_values().iter().copied().collect();
        s.sort_by(|a, b| b.total_cmp(a));
        assert!(s[3] > 0.1 && s[4] < 1e-12, "{s:?}");
        for j in 0..test.n {
            let nrm: f64 = test.x_row(j).iter().map(|v| v * v).sum();
            assert!((nrm - 1.0).abs() < 1e-14);
        }
        // the thick torus is full-dimensional, within the ball radius of the torus' plane
        let sp = spec(DatasetKind::ThickTorus, 60, 9);
        let thick = generate(&sp).unwrap();
        let m = nalgebra::DMatrix::from_row_slice(60, 9, &thick.x);
        let s = m.singular_values();
        assert!(s.iter().all(|&v| v > 0.1), "{s:?}");
        let dist = Distribution::new(&sp).unwrap();
        for i in 0..thick.n {
            let x = thick.x_row(i);
            let q = dist.project(x, 4);
            let off: f64 =
                x.iter().map(|v| v * v).sum::<f64>() - q.iter().map(|v| v * v).sum::<f64>();
            assert!(off.max(0.0).sqrt() <= THICK_TORUS_RADIUS + 1e-12);
            let qn = q.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(qn <= 1.0 + THICK_TORUS_RADIUS + 1e-12);
        }
    }

    #[test]
    fn gradient_bounds_hold_on_the_hull_and_are_attained_where_exact() {
        let mut g = SplitMix64::new(4);
        for (kind, radius) in [
            (DatasetKind::Circle, 1.0),
            (DatasetKind::Torus, 1.0),
            (DatasetKind::ThickTorus, 1.0 + THICK_TORUS_RADIUS),
        ] {
            let sp = spec(kind, 5, 6);
            let dist = Distribution::new(&sp).unwrap();
            let bound = dist.gradient_bound().unwrap();
            let c = if kind == DatasetKind::Circle { 2 } else { 4 };
            let mut largest = 0.0f64;
            for t in 0..4000 {
                // q uniform in direction, radius up to `radius` (the hull's image under Qᵀ)
                let dir: Vec<f64> = (0..c).map(|_| g.normal()).collect();
                let nd = dir.iter().map(|v| v * v).sum::<f64>().sqrt();
                let r = if t % 2 == 0 {
                    radius
                } else {
                    radius * g.uniform()
                };
                let q: Vec<f64> = dir.iter().map(|v| r * v / nd).collect();
                let mut x = vec![0.0; 6];
                embed(&dist.frame, 6, &q, &mut x);
                let mut grad = vec![0.0; 6];
                dist.target_gradient(&x, &mut grad);
                let gn = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
                assert!(
                    gn <= bound.value * (1.0 + 1e-12),
                    "{kind}: {gn} > {}",
                    bound.value
                );
                largest = largest.max(gn);
            }
            // an upper bound, not wildly loose
            assert!(
                largest > 0.8 * bound.value,
                "{kind}: {largest} vs {}",
                bound.value
            );
        }
        // circle: attained at q = (0, −1)
        let dist = Distribution::new(&spec(DatasetKind::Circle, 5, 6)).unwrap();
        let mut x = vec![0.0; 6];
        embed(&dist.frame, 6, &[0.0, -1.0], &mut x);
        let mut grad = vec![0.0; 6];
        dist.target_gradient(&x, &mut grad);
        let gn = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((gn - 2.0).abs() < 1e-14);
        // gaussian: 3‖u‖ at x = 0 (cos 0 = 1)
        let dist = Distribution::new(&spec(DatasetKind::Gaussian, 5, 6)).unwrap();
        dist.target_gradient(&[0.0; 6], &mut grad);
        let gn = grad.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((gn - dist.gradient_bound().unwrap().value).abs() < 1e-14);
        assert!(Distribution::new(&spec(DatasetKind::Iris, 20, 3))
            .unwrap()
            .gradient_bound()
            .is_none());
    }

    #[test]
    fn iris_test_set_is_the_held_out_rows() {
        let (taken, held) = iris_split(30).unwrap();
        assert_eq!(taken.len() + held.len(), IRIS_ROWS);
        assert!(held.iter().all(|i| !taken.contains(i)));
        let sp = spec(DatasetKind::Iris, 30, 3);
        let train = generate(&sp).unwrap();
        let test = Distribution::new(&sp).unwrap().test_set(5).unwrap();
        assert_eq!(test.n, IRIS_ROWS - 30);
        // every training row and every test row is one of the 150 standardised rows
        let rows = iris_standardised().unwrap();
        for (i, &r) in taken.iter().enumerate() {
            assert_eq!(train.x_row(i), &rows[r][..3]);
        }
        for (j, &r) in held.iter().enumerate() {
            assert_eq!(test.x_row(j), &rows[r][..3]);
            assert_eq!(test.y[j], rows[r][3]);
        }
    }

    /// SHA-256 (FIPS 180-4), for the fixture checksums; checked on the FIPS 180-2 example
    /// vectors (values as printed by Python's `hashlib`) below.
    fn sha256(data: &[u8]) -> String {
        const K: [u32; 64] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2,
        ];
        let mut h: [u32; 8] = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let mut msg = data.to_vec();
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
        for chunk in msg.chunks(64) {
            let mut w = [0u32; 64];
            for t in 0..16 {
                w[t] = u32::from_be_bytes([
                    chunk[4 * t],
                    chunk[4 * t + 1],
                    chunk[4 * t + 2],
                    chunk[4 * t + 3],
                ]);
            }
            for t in 16..64 {
                let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
                let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
                w[t] = w[t - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[t - 7])
                    .wrapping_add(s1);
            }
            let mut v = h;
            for t in 0..64 {
                let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
                let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
                let t1 = v[7]
                    .wrapping_add(s1)
                    .wrapping_add(ch)
                    .wrapping_add(K[t])
                    .wrapping_add(w[t]);
                let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
                let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
                let t2 = s0.wrapping_add(maj);
                v = [
                    t1.wrapping_add(t2),
                    v[0],
                    v[1],
                    v[2],
                    v[3].wrapping_add(t1),
                    v[4],
                    v[5],
                    v[6],
                ];
            }
            for (a, b) in h.iter_mut().zip(v) {
                *a = a.wrapping_add(b);
            }
        }
        h.iter().map(|x| format!("{x:08x}")).collect()
    }

    #[test]
    fn sha256_standard_vectors() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn digits_fixture_checksums_match_its_readme() {
        // the sha256 recorded in fixtures/digits/SHA256SUMS by make_digits.py
        let sums = include_str!("../../fixtures/digits/SHA256SUMS");
        for (bytes, name) in [
            (DIGITS_IMAGES_NPY, "digits_images.npy"),
            (DIGITS_LABELS_NPY, "digits_labels.npy"),
        ] {
            let line = format!("{}  {name}", sha256(bytes));
            assert!(sums.lines().any(|l| l == line), "{line} not in {sums}");
        }
        assert_eq!(
            sha256(DIGITS_IMAGES_NPY),
            "06622382efae4888481a982e2eb3ac77ac3e5b64ef0da69168b7943041fbebe0"
        );
        assert_eq!(
            sha256(DIGITS_LABELS_NPY),
            "03ec0343bca84958ae3df825f252a3680415fa07fccb1ed1125ed521c13169e5"
        );
    }

    #[test]
    fn digits_shape_labels_and_pixels() {
        let (images, labels) = digits_raw().unwrap();
        assert_eq!(images.len(), 1797 * 64);
        assert_eq!(labels.len(), 1797);
        let mut counts = [0usize; 10];
        for &l in labels {
            counts[usize::from(l)] += 1;
        }
        // scikit-learn's digits: 178, 182, 177, 183, 181, 182, 181, 179, 174, 180
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        // the first image of the CSV: 0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,… label 0
        assert_eq!(
            &images[..16],
            &[0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]
        );
        assert_eq!(labels[..5], [0, 1, 2, 3, 4]);
        let total: u64 = images.iter().map(|&v| u64::from(v)).sum();
        assert_eq!(total, 561_718);
        assert_eq!(images.iter().copied().max(), Some(16));
        assert_eq!(images.iter().copied().min(), Some(0));
    }

    #[test]
    fn digits_scaling_targets_and_split() {
        let (images, labels) = digits_raw().unwrap();
        let train = generate(&spec(DatasetKind::Digits, 1000, 0)).unwrap();
        assert_eq!((train.n, train.d), (1000, 64));
        for i in 0..train.n {
            for j in 0..64 {
                assert_eq!(train.x_row(i)[j] * 16.0, f64::from(images[i * 64 + j]));
            }
            let even = labels[i] % 2 == 0;
            assert_eq!(train.y[i], if even { 1.0 } else { -1.0 });
        }
        assert!(train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(train.y.iter().filter(|&&v| v == 1.0).count(), 496);
        let pixels: f64 = train.x.iter().sum();
        assert_eq!(pixels * 16.0, 314_334.0);
        // a smaller n is a prefix; the test set is rows 1000..1797 whatever n is
        let small = digits(50).unwrap();
        assert_eq!(small.x[..], train.x[..50 * 64]);
        let test = Distribution::new(&spec(DatasetKind::Digits, 50, 0))
            .unwrap()
            .test_set(3)
            .unwrap();
        assert_eq!((test.n, test.d), (797, 64));
        assert_eq!(test.y.iter().filter(|&&v| v == 1.0).count(), 395);
        assert_eq!(test.x[0] * 16.0, f64::from(images[1000 * 64]));
        assert_eq!(test.x_row(796)[63] * 16.0, f64::from(images[1797 * 64 - 1]));
        assert!(digits(0).is_err());
        assert!(digits(1001).is_err());
        assert!(Distribution::new(&spec(DatasetKind::Digits, 1001, 0)).is_err());
        assert_eq!(DatasetKind::Digits.fixed_dim(), Some(64));
        assert_eq!("digits".parse::<DatasetKind>(), Ok(DatasetKind::Digits));
    }

    #[test]
    fn npy_header_checks() {
        let good = DIGITS_LABELS_NPY;
        assert!(npy_u8_payload(good, "(1797,)", 1797, "l").is_ok());
        assert!(npy_u8_payload(good, "(1796,)", 1797, "l").is_err());
        assert!(npy_u8_payload(good, "(1797,)", 1796, "l").is_err());
        assert!(npy_u8_payload(&good[..100], "(1797,)", 1797, "l").is_err());
        let mut f8 = good.to_vec();
        let p = f8.windows(3).position(|w| w == b"|u1").unwrap();
        f8[p..p + 3].copy_from_slice(b"<f8");
        assert!(npy_u8_payload(&f8, "(1797,)", 1797, "l").is_err());
        assert!(npy_u8_payload(b"PK\x03\x04 not npy", "(1,)", 1, "l").is_err());
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(generate(&spec(DatasetKind::Circle, 10, 1)).is_err());
        assert!(generate(&spec(DatasetKind::Torus, 10, 3)).is_err());
        assert!(generate(&spec(DatasetKind::Gaussian, 0, 3)).is_err());
        assert!(generate(&spec(DatasetKind::ThickTorus, 10, 3)).is_err());
        let dist = Distribution::new(&spec(DatasetKind::Torus, 10, 5)).unwrap();
        assert!(dist.test_set(0).is_err());
        assert!(dist.target(&[0.0; 4]).is_none());
        assert!(!dist.target_gradient(&[0.0; 5], &mut [0.0; 4]));
    }
}
