//! Engine benchmarks (issue 2): building T_k densely, the dense eigensolve, and the closed form
//! against brute-force enumeration of every batch on the same input.
//!
//! Run: `cargo bench --bench engine` (add `--features lapack` to include the LAPACK eigensolver).

#[path = "../tests/suite/common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sgdstab::engine::moment_operator::MomentTerms;
use sgdstab::engine::spectrum::{symmetric_eigenvalues, EigenBackend};
use sgdstab::{BatchModel, Sampling};
use std::hint::black_box;
use std::time::Duration;

/// (k, r) pairs and their D = C(r + k − 1, k).
const SIZES: [(usize, usize); 4] = [(2, 30), (3, 15), (4, 12), (3, 24)];

fn coords(n: usize, r: usize, seed: u64) -> Vec<f64> {
    let mut rng = common::Rng::new(seed);
    (0..n * r)
        .map(|_| rng.normal() / (r as f64).sqrt())
        .collect()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build_T_k");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let n = 64;
    for (k, r) in SIZES {
        let b = coords(n, r, 1);
        let model = BatchModel::new(n, 8, Sampling::WithoutReplacement).unwrap();
        let terms = MomentTerms::new(&b, n, r, k, &model, false).unwrap();
        let d = terms.dim();
        g.bench_with_input(
            BenchmarkId::new(format!("k{k}_r{r}_n{n}"), d),
            &d,
            |bch, _| {
                bch.iter(|| {
                    let t = MomentTerms::new(black_box(&b), n, r, k, &model, false).unwrap();
                    black_box(t.operator(0.5))
                })
            },
        );
    }
    g.finish();
}

fn eigensolve(c: &mut Criterion) {
    let mut g = c.benchmark_group("eigensolve_T_k");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let n = 64;
    let mut backends = vec![EigenBackend::Faer];
    if EigenBackend::Lapack.available() {
        backends.push(EigenBackend::Lapack);
    }
    for (k, r) in SIZES {
        let b = coords(n, r, 1);
        let model = BatchModel::new(n, 8, Sampling::WithoutReplacement).unwrap();
        let terms = MomentTerms::new(&b, n, r, k, &model, false).unwrap();
        let d = terms.dim();
        let t = terms.operator(0.5);
        for &be in &backends {
            g.bench_with_input(
                BenchmarkId::new(format!("{be}_k{k}_r{r}"), d),
                &d,
                |bch, _| {
                    bch.iter(|| black_box(symmetric_eigenvalues(black_box(&t), d, be).unwrap()))
                },
            );
        }
    }
    g.finish();
}

/// n = 16, B = 8, w = r = 4, k = 3: C(16, 8) = 12 870 batches for the brute force.
fn closed_form_vs_brute_force(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_form_vs_brute_force");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let (n, r, k, batch, lr) = (16, 4, 3, 8, 0.3);
    let mut rng = common::Rng::new(7);
    let rows = rng.matrix(n, r);
    let flat: Vec<f64> = rows.concat();
    let model = BatchModel::new(n, batch, Sampling::WithoutReplacement).unwrap();
    // same numbers first
    let closed = MomentTerms::new(&flat, n, r, k, &model, false)
        .unwrap()
        .operator(lr);
    let brute = common::brute_force_tk(&rows, k, lr, batch, Sampling::WithoutReplacement);
    let d = (brute.len() as f64).sqrt() as usize;
    let scale = common::fro(&brute);
    for a in 0..d {
        for bb in 0..d {
            assert!((closed[a + bb * d] - brute[a * d + bb]).abs() <= 1e-12 * scale);
        }
    }
    g.bench_function("closed_form_n16_B8_w4_k3", |bch| {
        bch.iter(|| {
            black_box(
                MomentTerms::new(black_box(&flat), n, r, k, &model, false)
                    .unwrap()
                    .operator(lr),
            )
        })
    });
    g.bench_function("brute_force_n16_B8_w4_k3", |bch| {
        bch.iter(|| {
            black_box(common::brute_force_tk(
                black_box(&rows),
                k,
                lr,
                batch,
                Sampling::WithoutReplacement,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, build, eigensolve, closed_form_vs_brute_force);
criterion_main!(benches);
