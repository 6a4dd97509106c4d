//! A small seeded random number generator (SplitMix64) for initialisation, data sets, batch
//! draws and Monte-Carlo simulation: deterministic across platforms and runs, no dependency.
//!
//! Used only where randomness is part of the method (SGD draws batches, a network needs an
//! initial point); every exact quantity of the analyzer is computed without it.

/// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit state advanced by a Weyl sequence and mixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`; equal seeds give equal streams.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed ^ 0x5851_F42D_4C95_7F2D)
    }

    /// An independent stream derived from this seed and a label (for per-run or per-path RNGs).
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut g = SplitMix64::new(seed);
        let a = g.next_u64();
        SplitMix64::new(a ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` (53 random bits).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `0..bound` (`bound >= 1`; Lemire's multiply-shift, bias < 2^-64·bound).
    pub fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }

    /// Fills `out` with a uniform `out.len()`-subset of `0..n` (distinct indices, in draw order):
    /// the first `B` steps of a Fisher–Yates shuffle of `scratch`, which must hold a permutation
    /// of `0..n` (it stays one).
    pub fn subset(&mut self, scratch: &mut [usize], out: &mut [usize]) {
        let n = scratch.len();
        for (t, o) in out.iter_mut().enumerate() {
            let j = t + self.below(n - t);
            scratch.swap(t, j);
            *o = scratch[t];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            let u = a.uniform();
            assert!((0.0..1.0).contains(&u));
            b.uniform();
            assert!(a.below(5) < 5);
            b.below(5);
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }

    #[test]
    fn subsets_are_uniform_and_distinct() {
        // n = 4, B = 2: each of the 6 subsets has probability 1/6
        let mut g = SplitMix64::new(3);
        let mut scratch: Vec<usize> = (0..4).collect();
        let mut counts = std::collections::BTreeMap::new();
        let trials = 60_000;
        for _ in 0..trials {
            let mut out = [0usize; 2];
            g.subset(&mut scratch, &mut out);
            assert_ne!(out[0], out[1]);
            let key = (out[0].min(out[1]), out[0].max(out[1]));
            *counts.entry(key).or_insert(0usize) += 1;
        }
        assert_eq!(counts.len(), 6);
        // binomial sd = sqrt(T p (1-p)) ≈ 91; allow 5 sd
        for &c in counts.values() {
            assert!(
                (c as f64 - trials as f64 / 6.0).abs() < 5.0 * 91.3,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn normal_moments() {
        let mut g = SplitMix64::new(11);
        let m = 200_000;
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..m {
            let x = g.normal();
            s1 += x;
            s2 += x * x;
        }
        // standard errors: mean 1/sqrt(m) ≈ 0.0022, second moment sqrt(2/m) ≈ 0.0032
        assert!((s1 / m as f64).abs() < 0.012);
        assert!((s2 / m as f64 - 1.0).abs() < 0.016);
    }
}
