//! Span reduction (DESIGN §4) against the unreduced operator on `Sym^k(R^w)`, built by brute
//! force over every batch: the full spectrum must be the union of the reduced blocks
//! `spec T_j^{(b)}`, `j = 0..k`, each repeated `C(w − r + k − j − 1, k − j)` times.

use crate::common::*;
use sgdstab::{AnalyzeOptions, Gradients, Sampling};

fn check_case(
    rows: Vec<Vec<f64>>,
    k: usize,
    lr: f64,
    b: usize,
    sampling: Sampling,
    want_rank: usize,
) {
    let w = rows[0].len();
    let g = Gradients::from_rows(&rows).unwrap();
    let opts = AnalyzeOptions::default().orders([k]).full_spectrum(true);
    let rep = analyze_with(&g, lr, b, sampling, &opts);
    assert_eq!(rep.rank, want_rank, "rank");
    let order = &rep.orders[0];
    let mut from_blocks: Vec<f64> = Vec::new();
    for blk in &order.blocks {
        for &v in blk.eigenvalues.as_ref().unwrap() {
            for _ in 0..blk.multiplicity {
                from_blocks.push(v);
            }
        }
    }
    from_blocks.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let full = brute_force_tk(&rows, k, lr, b, sampling);
    let dim = (full.len() as f64).sqrt() as usize;
    let want = sym_eigenvalues(&full, dim);
    assert_eq!(from_blocks.len(), want.len(), "dimension of Sym^{k}(R^{w})");
    let scale = fro(&full);
    for (a, b) in from_blocks.iter().zip(&want) {
        assert!(
            (a - b).abs() < 1e-11 * scale,
            "{from_blocks:?}\nvs\n{want:?}"
        );
    }
    let rho = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!((order.spectral_radius - rho).abs() < 1e-11 * scale);
}

#[test]
fn wide_gradients_w_greater_than_n() {
    let mut rng = Rng::new(21);
    for (k, sampling) in [
        (1, Sampling::WithoutReplacement),
        (2, Sampling::WithReplacement),
        (3, Sampling::WithoutReplacement),
    ] {
        let rows = rng.matrix(3, 5);
        check_case(rows, k, 0.3, 2, sampling, 3);
    }
}

#[test]
fn full_rank_w_less_than_n() {
    let mut rng = Rng::new(22);
    for (k, sampling) in [
        (2, Sampling::WithoutReplacement),
        (3, Sampling::WithReplacement),
        (4, Sampling::WithoutReplacement),
    ] {
        let rows = rng.matrix(6, 2);
        check_case(rows, k, 0.25, 3, sampling, 2);
    }
}

#[test]
fn rank_deficient_w_less_than_n() {
    // four samples in R^3 spanning a plane: r = 2 < w = 3 <= n
    let mut rng = Rng::new(23);
    let u = rng.matrix(2, 3);
    let rows: Vec<Vec<f64>> = (0..4)
        .map(|_| {
            let (s, t) = (rng.normal(), rng.normal());
            (0..3).map(|j| s * u[0][j] + t * u[1][j]).collect()
        })
        .collect();
    for (k, sampling) in [
        (2, Sampling::WithReplacement),
        (3, Sampling::WithoutReplacement),
    ] {
        check_case(rows.clone(), k, 0.2, 2, sampling, 2);
    }
}
