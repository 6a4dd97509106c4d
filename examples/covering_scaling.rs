//! How fast the training set covers the test distribution as `n` grows (Definition 2/4), on the
//! 2-torus in R^10 (intrinsic dimension 2) and on the full-dimensional thick torus in R^10: the
//! data side of the paper's remark after Theorem 6 (eq. 26 vanishes as `n → ∞` when `δ` decays
//! faster than `n^{-1/(2k)}`).
//!
//! ```sh
//! cargo run --release --example covering_scaling
//! ```
//!
//! For each `n`, 2000 test points from the same distribution (the data set's test stream) and
//! the quantiles of their distances to the nearest training point: `δ_50` (where `ε₂ = 0.5`) and
//! `δ_90` (where `ε₂ = 0.1`). The slope of `log δ_50` against `log n` estimates `−1/m`, `m` the
//! covering dimension of the support.

use sgdstab::generalization::covering::nearest_distances;
use sgdstab::networks::datasets::{generate, DatasetKind, DatasetSpec, Distribution};

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn main() -> Result<(), sgdstab::Error> {
    let ns = [32usize, 128, 512, 2048, 8192];
    println!(
        "{:>12} {:>6} {:>10} {:>10} {:>10}",
        "data set", "n", "δ_50", "δ_90", "max"
    );
    for kind in [DatasetKind::Torus, DatasetKind::ThickTorus] {
        let mut pts = Vec::new();
        for &n in &ns {
            let spec = DatasetSpec {
                kind,
                n,
                dim: 10,
                seed: 0,
            };
            let train = generate(&spec)?;
            let test = Distribution::new(&spec)?.test_set(2000)?;
            let mut near = nearest_distances(&test.x, &train.x, 10);
            near.sort_by(f64::total_cmp);
            let (d50, d90) = (quantile(&near, 0.5), quantile(&near, 0.9));
            println!(
                "{:>12} {:>6} {:>10.4} {:>10.4} {:>10.4}",
                kind.name(),
                n,
                d50,
                d90,
                near[near.len() - 1]
            );
            pts.push(((n as f64).ln(), d50.ln()));
        }
        // least-squares slope of log δ_50 on log n
        let k = pts.len() as f64;
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / k,
            pts.iter().map(|p| p.1).sum::<f64>() / k,
        );
        let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        println!(
            "{:>12} slope of log δ_50 vs log n = {slope:.3}  →  covering dimension m ≈ {:.2}\n",
            kind.name(),
            -1.0 / slope
        );
    }
    Ok(())
}
