//! Built-in regression data sets: synthetic ones (including data on low-dimensional manifolds
//! in `R^d`, the setting of Theorem 6) and a small real one shipped as a fixture (no downloads).
//!
//! Every set is `n` inputs `x_i ∈ R^d` (the rows of an `n × d` row-major matrix) with targets
//! `y_i = f*(x_i)`, deterministic for a given seed.
//!
//! | kind | inputs | target |
//! |---|---|---|
//! | `circle` | `x = Q (cos θ, sin θ)`, `Q` a random `d × 2` orthonormal frame (a random rotation of the unit circle into `R^d`, `d >= 2`); `θ` on a jittered grid `2π(i + u_i/2)/n`, `u_i ~ U(0,1)` | `sin θ + ½ cos 2θ` |
//! | `torus` | `x = Q (cos a, sin a, cos b, sin b)/√2`, `Q` a random `d × 4` frame (`d >= 4`): the flat 2-torus; `(a, b)` i.i.d. uniform | `sin(a + b) + ½ cos(a − 2b)` |
//! | `gaussian` | `x ~ N(0, I_d / d)` (no manifold structure) | `sin(3 u·x)`, `u ~ N(0, I_d)` |
//! | `iris` | Fisher's Iris (fixture `fixtures/iris.csv`, CC BY 4.0): sepal length, sepal width, petal length, each standardised over all 150 rows (`d = 3`) | petal width in cm minus its mean |
//!
//! Iris subsets: `n` rows at positions `⌊j·150/n⌋`, `j = 0..n`, moving on to the next row whose
//! inputs differ from every row already taken (the data repeat some measurements, which no
//! function can interpolate with different targets).

use crate::error::{Error, Result};
use crate::random::SplitMix64;
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;
use std::fmt;
use std::str::FromStr;

/// The Iris fixture, compiled in (see `fixtures/make_iris.py` for its provenance).
pub const IRIS_CSV: &str = include_str!("../fixtures/iris.csv");

/// Rows in the Iris fixture.
pub const IRIS_ROWS: usize = 150;

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
    /// Gaussian inputs, full-dimensional.
    Gaussian,
    /// Fisher's Iris (real data, `d = 3`).
    Iris,
}

impl DatasetKind {
    /// Every kind.
    pub const ALL: [DatasetKind; 4] = [
        DatasetKind::Circle,
        DatasetKind::Torus,
        DatasetKind::Gaussian,
        DatasetKind::Iris,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Circle => "circle",
            DatasetKind::Torus => "torus",
            DatasetKind::Gaussian => "gaussian",
            DatasetKind::Iris => "iris",
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
                format!("unknown data set '{s}' (expected circle, torus, gaussian or iris)")
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
    /// Ambient dimension `d` (ignored for `iris`, which has `d = 3`).
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

/// Makes the data set described by `spec`.
pub fn generate(spec: &DatasetSpec) -> Result<Dataset> {
    if spec.n == 0 || spec.n > MAX_POINTS {
        return Err(Error::parameter(
            "--n",
            spec.n,
            format!("the number of points must be in 1..={MAX_POINTS}"),
        ));
    }
    let mut rng = SplitMix64::derive(spec.seed, 0x4441_5441);
    let (n, d) = (spec.n, spec.dim);
    let values = (n as u128) * (d as u128);
    let budget = crate::memory::default_budget_bytes();
    if spec.kind != DatasetKind::Iris && values * 8 > budget {
        return Err(Error::too_large(
            format!("the {} data set ({n} × {d} inputs)", spec.kind.name()),
            values * 8,
            budget,
            "lower --n or --dim",
        ));
    }
    let need_dim = |min: usize| -> Result<()> {
        if d < min || d > 100_000 {
            return Err(Error::parameter(
                "--dim",
                d,
                format!(
                    "the {} data set needs {min} <= d <= 100000",
                    spec.kind.name()
                ),
            ));
        }
        Ok(())
    };
    match spec.kind {
        DatasetKind::Circle => {
            need_dim(2)?;
            let q = random_frame(d, 2, &mut rng);
            let mut x = vec![0.0; n * d];
            let mut y = vec![0.0; n];
            for i in 0..n {
                let t = TAU * (i as f64 + 0.5 * rng.uniform()) / n as f64;
                embed(&q, d, &[t.cos(), t.sin()], &mut x[i * d..(i + 1) * d]);
                y[i] = t.sin() + 0.5 * (2.0 * t).cos();
            }
            Dataset::new(
                format!("circle in R^{d} (n = {n}, seed {})", spec.seed),
                n,
                d,
                x,
                y,
            )
        }
        DatasetKind::Torus => {
            need_dim(4)?;
            let q = random_frame(d, 4, &mut rng);
            let mut x = vec![0.0; n * d];
            let mut y = vec![0.0; n];
            let s = std::f64::consts::FRAC_1_SQRT_2;
            for i in 0..n {
                let a = TAU * rng.uniform();
                let b = TAU * rng.uniform();
                let p = [s * a.cos(), s * a.sin(), s * b.cos(), s * b.sin()];
                embed(&q, d, &p, &mut x[i * d..(i + 1) * d]);
                y[i] = (a + b).sin() + 0.5 * (a - 2.0 * b).cos();
            }
            Dataset::new(
                format!("torus in R^{d} (n = {n}, seed {})", spec.seed),
                n,
                d,
                x,
                y,
            )
        }
        DatasetKind::Gaussian => {
            need_dim(1)?;
            let u: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            let sd = 1.0 / (d as f64).sqrt();
            let x: Vec<f64> = (0..n * d).map(|_| sd * rng.normal()).collect();
            let y = (0..n)
                .map(|i| {
                    let ux: f64 = u
                        .iter()
                        .zip(&x[i * d..(i + 1) * d])
                        .map(|(a, b)| a * b)
                        .sum();
                    (3.0 * ux).sin()
                })
                .collect();
            Dataset::new(
                format!("gaussian in R^{d} (n = {n}, seed {})", spec.seed),
                n,
                d,
                x,
                y,
            )
        }
        DatasetKind::Iris => iris(n),
    }
}

/// The Iris regression subset of `n` rows (see the module docs).
pub fn iris(n: usize) -> Result<Dataset> {
    let rows = iris_rows()?;
    // standardise the three inputs over all rows; centre the target
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
            "--n",
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
    let mut x = Vec::with_capacity(3 * n);
    let mut y = Vec::with_capacity(n);
    for &i in &taken {
        for c in 0..3 {
            x.push((rows[i][c] - mean[c]) / sd[c]);
        }
        y.push(rows[i][3] - mean[3]);
    }
    Dataset::new(format!("iris (n = {n} of {IRIS_ROWS})"), n, 3, x, y)
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

    #[test]
    fn bad_specs_are_errors() {
        assert!(generate(&spec(DatasetKind::Circle, 10, 1)).is_err());
        assert!(generate(&spec(DatasetKind::Torus, 10, 3)).is_err());
        assert!(generate(&spec(DatasetKind::Gaussian, 0, 3)).is_err());
    }
}
