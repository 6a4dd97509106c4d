//! The data-side quantities of Section 5: the covered condition `ε₂(δ)` (Definitions 2 and 4),
//! the scattered constant `K` (Definition 3), and the default `δ` grid.
//!
//! All point sets are row-major `count × d` slices. Distances are Euclidean. A training ball
//! `B(x_i, δ)` is closed (`‖x − x_i‖_2 <= δ`), so a test point is *uncovered* at `δ` when
//! `min_i ‖x − x_i‖_2 > δ`, exactly the event of eq. (9)/(10).

use serde::Serialize;

/// `‖a − b‖_2`.
pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// For every point of `points` (`count × d`), its distance to the nearest training point of
/// `train` (`n × d`, `n >= 1`), in the order of `points`.
pub fn nearest_distances(points: &[f64], train: &[f64], d: usize) -> Vec<f64> {
    points
        .chunks_exact(d)
        .map(|p| {
            train
                .chunks_exact(d)
                .map(|t| distance(p, t))
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

/// `ε₂(δ)`: the fraction of test points farther than `δ` from every training point, given their
/// nearest distances (from [`nearest_distances`]). This is the empirical estimate of the
/// probability in eq. (9) for the given training set (the `ε₁` of Definition 4, the chance of
/// an unlucky training set, does not enter: the training set is fixed). Non-increasing in `δ`.
pub fn uncovered_fraction(nearest: &[f64], delta: f64) -> f64 {
    if nearest.is_empty() {
        return 0.0;
    }
    nearest.iter().filter(|&&t| t > delta).count() as f64 / nearest.len() as f64
}

/// Largest number of (evaluation point, training point) distances the midpoints may cost
/// before the `K` estimate falls back from all pairwise midpoints to nearest-neighbour midpoints.
pub const MAX_MIDPOINT_DISTANCES: usize = 50_000_000;

/// Which points the `K` estimate evaluates `κ` at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MidpointSet {
    /// The midpoints of all `n(n − 1)/2` pairs of training points.
    AllPairs,
    /// The midpoint of each training point and its nearest other training point (used when all
    /// pairs would cost more than [`MAX_MIDPOINT_DISTANCES`] distances).
    NearestNeighbour,
}

/// The estimate of the scattered constant of Definition 3: `κ(x) = #{i : ‖x − x_i‖_2 <= δ}`
/// evaluated at the training points, the test points and midpoints of training points, and its
/// maximum taken. A **lower** estimate of `sup_x κ(x)` (the sup runs over all of `R^d`); it is
/// always in `[1, n]` (each training point lies in its own ball).
///
/// Memory: the evaluation points only; the distances are computed per point (in parallel) when
/// estimating, all radii in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterEstimator {
    train: Vec<f64>,
    /// Training points, test points, then midpoints, `evaluation_points × d` row-major.
    points: Vec<f64>,
    d: usize,
    /// The midpoints used.
    pub midpoints: MidpointSet,
    /// Number of evaluation points.
    pub evaluation_points: usize,
}

impl ScatterEstimator {
    /// Prepares the estimate for training points `train` (`n × d`) and test points `test`.
    pub fn new(train: &[f64], test: &[f64], d: usize) -> Self {
        let n = train.len() / d;
        let row = |i: usize| &train[i * d..(i + 1) * d];
        let mut points = train.to_vec();
        points.extend_from_slice(test);
        let push_mid = |points: &mut Vec<f64>, a: usize, b: usize| {
            points.extend(row(a).iter().zip(row(b)).map(|(u, v)| 0.5 * (u + v)));
        };
        let pairs = n * n.saturating_sub(1) / 2;
        let midpoints = if pairs.saturating_mul(n) <= MAX_MIDPOINT_DISTANCES {
            for a in 0..n {
                for b in a + 1..n {
                    push_mid(&mut points, a, b);
                }
            }
            MidpointSet::AllPairs
        } else {
            for a in 0..n {
                let nearest = (0..n)
                    .filter(|&b| b != a)
                    .map(|b| (b, distance(row(a), row(b))))
                    .min_by(|x, y| x.1.total_cmp(&y.1));
                if let Some((b, _)) = nearest {
                    push_mid(&mut points, a, b);
                }
            }
            MidpointSet::NearestNeighbour
        };
        ScatterEstimator {
            train: train.to_vec(),
            evaluation_points: points.len() / d,
            points,
            d,
            midpoints,
        }
    }

    /// `max κ` over the evaluation points at each radius of `deltas` (in that order).
    pub fn estimate_many(&self, deltas: &[f64]) -> Vec<usize> {
        use rayon::prelude::*;
        let d = self.d;
        self.points
            .par_chunks_exact(d)
            .map(|p| {
                let mut ds: Vec<f64> = self.train.chunks_exact(d).map(|t| distance(p, t)).collect();
                ds.sort_by(f64::total_cmp);
                deltas
                    .iter()
                    .map(|&delta| ds.partition_point(|&t| t <= delta))
                    .collect::<Vec<usize>>()
            })
            .reduce(
                || vec![0; deltas.len()],
                |a, b| a.iter().zip(&b).map(|(x, y)| *x.max(y)).collect(),
            )
    }

    /// `max κ` over the evaluation points at radius `delta`.
    pub fn estimate(&self, delta: f64) -> usize {
        self.estimate_many(&[delta])[0]
    }
}

/// The default `δ` grid: `count` values spaced geometrically from a hundredth of the smallest
/// positive test-to-training distance (there `ε₂ = 1`, and the bound of eq. 26 approaches its
/// `δ → 0` limit) to the largest one (there `ε₂ = 0`).
/// Falls back to `[1e-3, 1]` when no test point is at positive distance.
pub fn default_deltas(nearest: &[f64], count: usize) -> Vec<f64> {
    let positive = nearest.iter().copied().filter(|&t| t > 0.0);
    let lo = positive.clone().fold(f64::INFINITY, f64::min);
    let hi = positive.fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo / 100.0, hi)
    } else {
        (1e-3, 1.0)
    };
    geometric(lo, hi, count)
}

/// `count` values from `lo` to `hi` (both included) in geometric progression.
pub fn geometric(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    match count {
        0 => Vec::new(),
        1 => vec![hi],
        _ => {
            let r = (hi / lo).ln() / (count - 1) as f64;
            (0..count)
                .map(|j| {
                    if j == count - 1 {
                        hi
                    } else {
                        lo * (r * j as f64).exp()
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built set in R^2: training points (0,0), (1,0), (3,0); test points at hand-known
    /// nearest distances 0, 0.5, 1, 2, and √2 (from (2,1) to (1,0) and to (3,0)).
    #[test]
    fn hand_built_covering_and_scatter() {
        let train = [0.0, 0.0, 1.0, 0.0, 3.0, 0.0];
        let test = [0.0, 0.0, 0.5, 0.0, 4.0, 0.0, 3.0, 2.0, 2.0, 1.0];
        let near = nearest_distances(&test, &train, 2);
        let want = [0.0, 0.5, 1.0, 2.0, 2f64.sqrt()];
        for (a, b) in near.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{near:?}");
        }
        // ε₂ counts distances strictly above δ
        assert_eq!(uncovered_fraction(&near, 0.0), 4.0 / 5.0);
        assert_eq!(uncovered_fraction(&near, 0.5), 3.0 / 5.0);
        assert_eq!(uncovered_fraction(&near, 1.0), 2.0 / 5.0);
        assert_eq!(uncovered_fraction(&near, 1.5), 1.0 / 5.0);
        assert_eq!(uncovered_fraction(&near, 2.0), 0.0);
        // K: at δ = 0.5 the midpoint (0.5, 0) lies in B(0) and B(1): 2; at δ = 1 the point
        // (1, 0) lies in B(0) and B(1), and (2, 0) (midpoint of 1 and 3) in B(1), B(3): 2;
        // at δ = 1.5 the midpoint (1.5, 0) is within 1.5 of all three: 3.
        let k = ScatterEstimator::new(&train, &test, 2);
        assert_eq!(k.midpoints, MidpointSet::AllPairs);
        assert_eq!(k.evaluation_points, 3 + 5 + 3);
        assert_eq!(k.estimate(0.1), 1);
        assert_eq!(k.estimate(0.5), 2);
        assert_eq!(k.estimate(1.0), 2);
        assert_eq!(k.estimate(1.5), 3);
        assert_eq!(k.estimate(100.0), 3);
    }

    #[test]
    fn large_sets_use_nearest_neighbour_midpoints() {
        // n = 500: all pairs would cost n·n(n−1)/2 > MAX_MIDPOINT_DISTANCES distances
        let n = 500;
        let mut g = crate::random::SplitMix64::new(5);
        let train: Vec<f64> = (0..2 * n).map(|_| g.uniform()).collect();
        let test: Vec<f64> = (0..20).map(|_| g.uniform()).collect();
        let k = ScatterEstimator::new(&train, &test, 2);
        assert_eq!(k.midpoints, MidpointSet::NearestNeighbour);
        assert_eq!(k.evaluation_points, n + 10 + n);
        // brute force over the same points: every training point, every test point, and the
        // midpoint of each training point with its nearest other training point
        let row = |s: &[f64], i: usize| [s[2 * i], s[2 * i + 1]];
        let mut pts: Vec<[f64; 2]> = (0..n).map(|i| row(&train, i)).collect();
        pts.extend((0..10).map(|j| row(&test, j)));
        for a in 0..n {
            let b = (0..n)
                .filter(|&b| b != a)
                .min_by(|&b, &c| {
                    distance(&row(&train, a), &row(&train, b))
                        .total_cmp(&distance(&row(&train, a), &row(&train, c)))
                })
                .unwrap();
            let (p, q) = (row(&train, a), row(&train, b));
            pts.push([(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0]);
        }
        let deltas = [0.01, 0.05, 0.1];
        let got = k.estimate_many(&deltas);
        for (t, &delta) in deltas.iter().enumerate() {
            let want = pts
                .iter()
                .map(|p| {
                    (0..n)
                        .filter(|&i| distance(p, &row(&train, i)) <= delta)
                        .count()
                })
                .max()
                .unwrap();
            assert_eq!(got[t], want);
            assert!((1..=n).contains(&want));
        }
    }

    #[test]
    fn grid_is_geometric_and_spans_the_distances() {
        let g = geometric(0.01, 1.0, 3);
        assert_eq!(g.len(), 3);
        assert!((g[1] - 0.1).abs() < 1e-15 && g[2] == 1.0 && g[0] == 0.01);
        let near = [0.0, 0.2, 0.8];
        let d = default_deltas(&near, 5);
        assert!((d[0] - 0.002).abs() < 1e-15 && d[4] == 0.8);
        assert_eq!(uncovered_fraction(&near, d[4]), 0.0);
        assert_eq!(default_deltas(&[0.0], 2), vec![1e-3, 1.0]);
    }
}
