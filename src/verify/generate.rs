//! Random gradient sets for property checks (used by `verify` and by the proptest strategies
//! of the `proptest-support` feature): varied `n`, `w`, rank, scale, heavy-tailed entries and
//! near-duplicate rows, all deterministic given a seed (SplitMix64).

use crate::engine::gradients::Gradients;
use crate::error::{Error, Param, Result};

/// SplitMix64: a tiny, fast, well-mixed 64-bit generator; the same seed gives the same stream
/// on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in `lo..=hi`.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    /// A Cauchy draw clamped to `[−50, 50]` (heavy-tailed but finite).
    pub fn heavy(&mut self) -> f64 {
        (std::f64::consts::PI * (self.uniform() - 0.5))
            .tan()
            .clamp(-50.0, 50.0)
    }
}

/// The recipe of a random gradient set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientSpec {
    /// Samples `n >= 1`.
    pub n: usize,
    /// Parameters `w >= 1`.
    pub w: usize,
    /// Target rank, `1 <= rank <= min(n, w)` (a near-duplicate row, which replaces the last
    /// row, may add or remove one direction at the rank tolerance).
    pub rank: usize,
    /// Overall scale `10^log_scale`.
    pub log_scale: f64,
    /// One entry in three of the left factor is Cauchy (clamped to ±50) instead of normal.
    pub heavy_tails: bool,
    /// The last row is the first plus a perturbation of relative size `1e-6`.
    pub near_duplicates: bool,
    /// RNG seed.
    pub seed: u64,
}

impl GradientSpec {
    /// A spec drawn from `rng`: `n ∈ n_range`, `w ∈ w_range`, rank uniform in
    /// `1..=min(n, w)`, `log_scale ∈ [−2, 2]`, heavy tails and near-duplicates with
    /// probability 1/2 and 1/3.
    pub fn draw(
        rng: &mut SplitMix,
        n_range: (usize, usize),
        w_range: (usize, usize),
    ) -> GradientSpec {
        let n = rng.int(n_range.0, n_range.1);
        let w = rng.int(w_range.0, w_range.1);
        let rank = rng.int(1, n.min(w));
        GradientSpec {
            n,
            w,
            rank,
            log_scale: 4.0 * rng.uniform() - 2.0,
            heavy_tails: rng.uniform() < 0.5,
            near_duplicates: rng.uniform() < 1.0 / 3.0,
            seed: rng.next_u64(),
        }
    }
}

/// Builds the gradients `A = 10^log_scale · U V / sqrt(rank)`, `U` (`n × rank`) normal or
/// heavy-tailed, `V` (`rank × w`) normal.
pub fn generate(spec: &GradientSpec) -> Result<Gradients> {
    let GradientSpec { n, w, rank, .. } = *spec;
    if n == 0 || w == 0 || rank == 0 || rank > n.min(w) || !spec.log_scale.is_finite() {
        return Err(Error::parameter(
            Param::Grads,
            format!("n={n} w={w} rank={rank} log_scale={}", spec.log_scale),
            "need n, w >= 1, 1 <= rank <= min(n, w) and a finite scale",
        ));
    }
    let mut rng = SplitMix::new(spec.seed);
    let u: Vec<f64> = (0..n * rank)
        .map(|_| {
            if spec.heavy_tails && rng.uniform() < 1.0 / 3.0 {
                rng.heavy()
            } else {
                rng.normal()
            }
        })
        .collect();
    let v: Vec<f64> = (0..rank * w).map(|_| rng.normal()).collect();
    let scale = 10f64.powf(spec.log_scale) / (rank as f64).sqrt();
    let mut a = vec![0.0; n * w];
    for i in 0..n {
        for j in 0..w {
            a[i * w + j] = scale
                * (0..rank)
                    .map(|t| u[i * rank + t] * v[t * w + j])
                    .sum::<f64>();
        }
    }
    if spec.near_duplicates && n >= 2 {
        let norm = (0..w).map(|j| a[j] * a[j]).sum::<f64>().sqrt().max(scale);
        for j in 0..w {
            a[(n - 1) * w + j] = a[j] + 1e-6 * norm * rng.normal();
        }
    }
    Gradients::from_row_major(n, w, a, "generated gradients")
}
