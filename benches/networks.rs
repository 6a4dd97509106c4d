//! Speed of the network path: per-sample gradients (the export), SGD steps (training), the
//! p-norm bracket (Section 4), on the demo's network (8-32-1 tanh, n = 16).
//!
//! Targets (2 cores, release): per-sample gradients of the demo network < 50 µs; 1000 SGD steps
//! with B = 4 < 20 ms (so training to interpolation takes well under a second); the ‖W_1ᵀ‖_8
//! bracket of an 8 × 32 matrix < 5 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use sgdstab::networks::datasets::{generate, DatasetKind, DatasetSpec};
use sgdstab::networks::network::{Activation, Architecture, Mlp};
use sgdstab::networks::training::{train, TrainOptions};
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

criterion_group!(benches, per_sample, sgd_steps, p_norm);
criterion_main!(benches);
