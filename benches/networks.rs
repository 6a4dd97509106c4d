//! Speed of the network path: per-sample gradients (the export), SGD steps (training), the
//! p-norm bracket (Section 4), on the toy network (8-32-1 tanh, n = 16); and the SGD step of the
//! digits network (64-128-128-1 ReLU, w = 24 961) at B = 2, 20, 100 next to a large GEMM on one
//! core, which gives the machine's flop rate.
//!
//! Targets (release): per-sample gradients of the toy network < 50 µs; 1000 SGD steps with B = 4
//! < 20 ms; the ‖W_1ᵀ‖_8 bracket of an 8 × 32 matrix < 5 ms. Digits step: within 2× of
//! `6·w·B` flops ÷ the GEMM rate (`gemm_1024_one_core`: 2·1024³ flops) at B = 20 and 100.
//! Run on one core: `taskset -c 1 cargo bench --bench networks -- digits_step gemm`.

use criterion::{criterion_group, criterion_main, Criterion};
use sgdstab::networks::datasets::{generate, DatasetKind, DatasetSpec};
use sgdstab::networks::network::{Activation, Architecture, Mlp};
use sgdstab::networks::training::{train, SgdStep, TrainOptions};
use std::hint::black_box;

fn setup() -> (Mlp, sgdstab::networks::datasets::Dataset) {
    let data = generate(&DatasetSpec {
        kind: DatasetKind::Torus,
        n: 16,
        dim: 8,
        seed: 0,
    })
    .expect("built-in data");
    let arch = Architecture::new(8, vec![32], Activation::Tanh).expect("valid architecture");
    (Mlp::init(arch, 0), data)
}

fn per_sample(c: &mut Criterion) {
    let (net, data) = setup();
    c.bench_function("per_sample_gradients_16x321", |b| {
        b.iter(|| black_box(net.per_sample(black_box(&data.x), data.n)))
    });
}

fn sgd_steps(c: &mut Criterion) {
    let (net, data) = setup();
    let opts = TrainOptions {
        max_iterations: 1000,
        loss_threshold: f64::MIN_POSITIVE,
        checkpoints: Vec::new(),
        ..TrainOptions::new(0.1, 4)
    };
    c.bench_function("sgd_1000_steps_b4", |b| {
        b.iter(|| {
            let mut m = net.clone();
            black_box(train(&mut m, &data, &opts, &sgdstab::NoProgress).expect("valid options"))
        })
    });
}

fn p_norm(c: &mut Criterion) {
    let (net, _) = setup();
    let w1t = sgdstab::networks::matrix_norm::transpose(net.w1(), 32, 8);
    c.bench_function("w1t_8_norm_bracket_8x32", |b| {
        b.iter(|| {
            black_box(sgdstab::networks::matrix_norm::bracket(
                black_box(&w1t),
                8,
                32,
                8.0,
            ))
        })
    });
}

fn digits_step(c: &mut Criterion) {
    let data = sgdstab::networks::datasets::digits(1000).expect("the digits fixture");
    let arch = Architecture::new(64, vec![128, 128], Activation::Relu).expect("valid architecture");
    let net = Mlp::init(arch, 0);
    let mut group = c.benchmark_group("digits_step");
    for b in [2usize, 20, 100] {
        let rows: Vec<usize> = (0..b).map(|i| (i * 37) % data.n).collect();
        let mut m = net.clone();
        let mut step = SgdStep::new(&m, b);
        // a tiny η keeps the parameters (and so the ReLU pattern) near the initialisation
        group.bench_function(format!("b{b}"), |bn| {
            bn.iter(|| step.step(black_box(&mut m), &data, black_box(&rows), 1e-9))
        });
    }
    group.finish();
}

fn gemm(c: &mut Criterion) {
    use faer::{linalg::matmul::matmul, Accum, Mat, Par};
    let n = 1024;
    let a = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    let b = Mat::<f64>::from_fn(n, n, |i, j| ((i * 5 + j) % 13) as f64 - 6.0);
    let mut out = Mat::<f64>::zeros(n, n);
    c.bench_function("gemm_1024_one_core", |bn| {
        bn.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                black_box(a.as_ref()),
                black_box(b.as_ref()),
                1.0,
                Par::Seq,
            )
        })
    });
}

criterion_group!(benches, per_sample, sgd_steps, p_norm);
criterion_group! {
    name = digits;
    config = Criterion::default().sample_size(30);
    targets = digits_step, gemm
}
criterion_main!(benches, digits);
