//! The clustered solver of `T_2` (issue 10, DESIGN §12): the certified enclosure of `λ_max(T_2)`
//! on a synthetic clustered spectrum (H eigenvalues from 1 down to 1e-8, most near the bottom),
//! and, when `SGDSTAB_BENCH_TRAINED` names a gradient file (e.g. the n = 1000, w = 24 961 export of
//! `fixtures/make_trained_export.sh large`), the `analyze --order 1,2` of that file.
//!
//! `davidson_T3`: block Davidson (`sgdstab::engine::davidson`) on `T_3` of the same synthetic
//! spectra (D = 11 480 and 39 711), diagonal included.
//!
//! Run: `cargo bench --bench clustered`.

#[path = "../tests/suite/common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use sgdstab::engine::clustered::{enclose_top, ClusteredOptions};
use sgdstab::engine::matrix_free::EigenCoords;
use sgdstab::{AnalyzeOptions, BatchModel, Hooks, Problem, ProblemOptions, Sampling};
use std::hint::black_box;
use std::time::Duration;

/// Rows with `H = diag(10^(−8 + 8 (a/(r−1))³))` in a random orthonormal frame.
fn clustered_coords(n: usize, r: usize, seed: u64) -> Vec<f64> {
    let mut rng = common::Rng::new(seed);
    let mut cols: Vec<Vec<f64>> = Vec::new();
    for _ in 0..r {
        let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        for _ in 0..2 {
            for c in &cols {
                let d: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(a, b)| *a -= d * b);
            }
        }
        let nr = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        cols.push(v.iter().map(|a| a / nr).collect());
    }
    let mut out = vec![0.0; n * r];
    for i in 0..n {
        for a in 0..r {
            let lam = 10f64.powf(-8.0 + 8.0 * (a as f64 / (r - 1) as f64).powi(3));
            out[i * r + a] = cols[a][i] * (n as f64 * lam).sqrt();
        }
    }
    out
}

fn synthetic(c: &mut Criterion) {
    let mut g = c.benchmark_group("clustered_T2");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (n, r) in [(200usize, 120usize), (400, 300)] {
        let b = clustered_coords(n, r, 3);
        let ec = EigenCoords::new(&b, n, r).unwrap();
        let model = BatchModel::new(n, 20, Sampling::WithoutReplacement).unwrap();
        g.bench_function(format!("n{n}_r{r}"), |bch| {
            bch.iter(|| {
                let e = enclose_top(
                    black_box(&ec),
                    0.1,
                    &model,
                    &ClusteredOptions::default(),
                    Hooks::none(),
                )
                .unwrap();
                assert!(e.width <= 1e-9, "{e:?}");
                e
            })
        });
    }
    g.finish();
}

fn trained(c: &mut Criterion) {
    let Ok(path) = std::env::var("SGDSTAB_BENCH_TRAINED") else {
        return;
    };
    let mut g = c.benchmark_group("trained_analyze_1_2");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    g.bench_function("analyze", |bch| {
        bch.iter(|| {
            let p = Problem::from_file(
                std::path::Path::new(&path),
                &ProblemOptions::default().max_order(2),
                Hooks::none(),
            )
            .unwrap();
            p.analyze(0.1, 20, &AnalyzeOptions::default(), Hooks::none())
                .unwrap()
        })
    });
    g.finish();
}

/// Block Davidson on `T_3` (both ends) of the same synthetic clustered spectra (issue 10, `j >= 3`).
fn davidson_t3(c: &mut Criterion) {
    use sgdstab::engine::davidson::{extreme_eigenvalues, DavidsonOptions, SolveLabel};
    use sgdstab::engine::lanczos::Ends;
    use sgdstab::engine::matrix_free::MatrixFreeMoment;
    let mut g = c.benchmark_group("davidson_T3");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (n, r) in [(60usize, 40usize), (100, 60)] {
        let b = clustered_coords(n, r, 5);
        let ec = EigenCoords::new(&b, n, r).unwrap();
        let model = BatchModel::new(n, 10, Sampling::WithoutReplacement).unwrap();
        let op = MatrixFreeMoment::new(&ec, 3, 0.1, &model).unwrap();
        let label = SolveLabel {
            label: format!("T_3, n = {n}, r = {r}"),
            expected_products: 40,
        };
        g.bench_function(format!("n{n}_r{r}"), |bch| {
            bch.iter(|| {
                let (diag, _) = op.diagonal();
                extreme_eigenvalues(
                    black_box(&op),
                    &diag,
                    Ends::Both,
                    &DavidsonOptions::default(),
                    0.0,
                    &label,
                    Hooks::none(),
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, synthetic, davidson_t3, trained);
criterion_main!(benches);
