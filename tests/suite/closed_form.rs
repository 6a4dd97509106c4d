//! The closed-form `T_k` (DESIGN §3) against brute-force enumeration of every batch, a
//! hand-computed scalar case, and the k = 1 formula.

use crate::common::*;
use sgdstab::engine::moment_operator::{DenseMoment, MomentTerms};
use sgdstab::{BatchModel, Sampling};

fn closed_form(rows: &[Vec<f64>], k: usize, lr: f64, b: usize, sampling: Sampling) -> Vec<f64> {
    let n = rows.len();
    let r = rows[0].len();
    let flat: Vec<f64> = rows.concat();
    let model = BatchModel::new(n, b, sampling).unwrap();
    let terms = MomentTerms::new(&flat, n, r, k, &model, false).unwrap();
    terms.operator(lr) // column-major; symmetric so row-major comparison is fine after checking
}

#[test]
fn closed_form_equals_brute_force_for_k_1_to_4_both_schemes() {
    let mut rng = Rng::new(11);
    let mut worst = 0.0f64;
    for case in 0..24 {
        let sampling = Sampling::ALL[case % 2];
        let k = 1 + (case / 2) % 4;
        let n = rng.int(
            2,
            if sampling == Sampling::WithReplacement {
                5
            } else {
                7
            },
        );
        let r = rng.int(1, if k >= 3 { 3 } else { 4 });
        let b = rng.int(
            1,
            n.min(if sampling == Sampling::WithReplacement {
                3
            } else {
                n
            }),
        );
        let scale = 0.3 + 1.5 * rng.uniform();
        let rows: Vec<Vec<f64>> = rng
            .matrix(n, r)
            .into_iter()
            .map(|row| row.into_iter().map(|x| x * scale).collect())
            .collect();
        let lr = 0.05 + 0.9 * rng.uniform();
        let got = closed_form(&rows, k, lr, b, sampling);
        let want = brute_force_tk(&rows, k, lr, b, sampling);
        let dim = (want.len() as f64).sqrt() as usize;
        let norm = fro(&want);
        for a in 0..dim {
            for c in 0..dim {
                // got is column-major: entry (a, c) at a + c*dim
                let diff = (got[a + c * dim] - want[a * dim + c]).abs();
                worst = worst.max(diff / norm);
                assert!(
                    diff <= 1e-12 * norm,
                    "case {case}: k={k} n={n} r={r} B={b} {sampling}: entry ({a},{c}) closed {} brute {}",
                    got[a + c * dim],
                    want[a * dim + c]
                );
            }
        }
    }
    eprintln!("worst relative entry difference: {worst:e}");
}

#[test]
fn closed_form_is_symmetric() {
    let mut rng = Rng::new(5);
    let rows = rng.matrix(6, 3);
    for sampling in Sampling::ALL {
        let t = closed_form(&rows, 3, 0.4, 3, sampling);
        let d = (t.len() as f64).sqrt() as usize;
        for a in 0..d {
            for c in 0..d {
                assert!((t[a + c * d] - t[c + a * d]).abs() < 1e-14 * fro(&t));
            }
        }
    }
}

/// w = 1, n = 3, B = 2, a = (1, 2, 3), η = 0.2, so c = η/B = 0.1 and H_i = a_i² = 1, 4, 9.
///
/// Without replacement the batches are {1,2}, {1,3}, {2,3} with Σ H = 5, 10, 13, so
/// M = 1 − 0.1·ΣH = 0.5, 0, −0.3 and T_k = (0.5^k + 0^k + (−0.3)^k)/3:
///   T_1 = 0.2/3, T_2 = 0.34/3, T_3 = 0.098/3, T_4 = 0.0706/3.
/// With replacement the 9 ordered pairs give Σ H = 2, 5, 5, 10, 10, 8, 13, 13, 18, so
/// M = 0.8, 0.5, 0.5, 0, 0, 0.2, −0.3, −0.3, −0.8 and
///   T_1 = (0.8 + 1.0 + 0.2 − 0.6 − 0.8)/9 = 0.6/9,
///   T_2 = (0.64 + 0.5 + 0.04 + 0.18 + 0.64)/9 = 2.0/9,
///   T_3 = (0.512 + 0.25 + 0.008 − 0.054 − 0.512)/9 = 0.204/9.
///
/// The closed form sums terms as large as c⁴ Σ a_i⁸ ≈ 0.66 to get T_4 ≈ 0.0235, so agreement is
/// checked against the operator's own rounding bound (which must also be small: < 1e-12).
#[test]
fn hand_computed_scalar_case() {
    let rows = vec![vec![1.0], vec![2.0], vec![3.0]];
    let flat = [1.0, 2.0, 3.0];
    let cases: [(Sampling, &[f64]); 2] = [
        (
            Sampling::WithoutReplacement,
            &[0.2 / 3.0, 0.34 / 3.0, 0.098 / 3.0, 0.0706 / 3.0],
        ),
        (
            Sampling::WithReplacement,
            &[0.6 / 9.0, 2.0 / 9.0, 0.204 / 9.0],
        ),
    ];
    for (sampling, values) in cases {
        let model = BatchModel::new(3, 2, sampling).unwrap();
        for (k, want) in values.iter().enumerate() {
            let t =
                DenseMoment::build_from_coords(&flat, 3, 1, k + 1, 0.2, &model, 1 << 30).unwrap();
            assert_eq!(t.matrix.len(), 1);
            let bound = t.build_error_bound();
            assert!(bound < 1e-12, "bound {bound}");
            assert!(
                (t.matrix[0] - want).abs() <= bound,
                "{sampling} k={} got {} want {want} (bound {bound:e})",
                k + 1,
                t.matrix[0]
            );
            // and the brute force agrees with the hand arithmetic
            let bf = brute_force_tk(&rows, k + 1, 0.2, 2, sampling);
            assert!((bf[0] - want).abs() < 1e-15);
        }
    }
}

#[test]
fn order_one_is_i_minus_eta_h() {
    // T_1 = I − ηH for both schemes (E[z_i] = B/n either way); ρ_1 = max |1 − η λ_i(H)|.
    let mut rng = Rng::new(3);
    for sampling in Sampling::ALL {
        let rows = rng.matrix(9, 4);
        let lr = 0.37;
        let t = closed_form(&rows, 1, lr, 3, sampling);
        let mut h = vec![0.0; 16];
        for row in &rows {
            for i in 0..4 {
                for j in 0..4 {
                    h[i * 4 + j] += row[i] * row[j] / 9.0;
                }
            }
        }
        for i in 0..4 {
            for j in 0..4 {
                let want = if i == j { 1.0 } else { 0.0 } - lr * h[i * 4 + j];
                assert!((t[i + j * 4] - want).abs() < 1e-14);
            }
        }
        let lam = sym_eigenvalues(&h, 4);
        let rho1 = lam.iter().map(|l| (1.0 - lr * l).abs()).fold(0.0, f64::max);
        assert!((radius(&t, 4) - rho1).abs() < 1e-13);
    }
}

#[test]
fn full_batch_without_replacement_is_gradient_descent() {
    // B = n without replacement: M = I − ηH deterministically, T_k = (I − ηH)^{⊗k} on Sym^k,
    // whose eigenvalues are the products of k eigenvalues of I − ηH.
    let mut rng = Rng::new(8);
    let rows = rng.matrix(5, 3);
    let lr = 0.3;
    let t = closed_form(&rows, 3, lr, 5, Sampling::WithoutReplacement);
    let mut h = vec![0.0; 9];
    for row in &rows {
        for i in 0..3 {
            for j in 0..3 {
                h[i * 3 + j] += row[i] * row[j] / 5.0;
            }
        }
    }
    let mu: Vec<f64> = sym_eigenvalues(&h, 3)
        .iter()
        .map(|l| 1.0 - lr * l)
        .collect();
    let mut want = Vec::new();
    for a in 0..3 {
        for b in a..3 {
            for c in b..3 {
                want.push(mu[a] * mu[b] * mu[c]);
            }
        }
    }
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let got = sym_eigenvalues(&t, 10);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-13, "{got:?} vs {want:?}");
    }
}
