//! Speed of Section 5 (`sgdstab generalization` without the analyzer): the covering/scattering
//! estimates and the full report (probes for C and the sensitivity on 24 radii) for a 10-32-1
//! network on 32 torus points with 2000 test points.
//!
//! Targets (2 cores, release): the K estimate (2528 evaluation points, 24 radii) < 50 ms; the full report
//! for k = 1, 2 with the default probes (16 random directions, 8 ascent steps) < 2 s.

use criterion::{criterion_group, criterion_main, Criterion};
use sgdstab::generalization::covering::ScatterEstimator;
use sgdstab::generalization::{generalization, GeneralizationOptions, SectionFiveInput};
use sgdstab::networks::datasets::{generate, DatasetKind, DatasetSpec, Distribution};
use sgdstab::networks::network::{Activation, Architecture, Mlp};
use std::hint::black_box;

fn setup() -> (
    Mlp,
    sgdstab::networks::datasets::Dataset,
    sgdstab::networks::datasets::Dataset,
    Distribution,
) {
    let spec = DatasetSpec {
        kind: DatasetKind::Torus,
        n: 32,
        dim: 10,
        seed: 0,
    };
    let train = generate(&spec).expect("built-in data");
    let dist = Distribution::new(&spec).expect("built-in data");
    let test = dist.test_set(2000).expect("built-in data");
    let arch = Architecture::new(10, vec![32], Activation::Relu).expect("valid architecture");
    (Mlp::init(arch, 0), train, test, dist)
}

fn scatter(c: &mut Criterion) {
    let (_, train, test, _) = setup();
    let deltas = sgdstab::generalization::covering::geometric(1e-3, 1.0, 24);
    c.bench_function("scatter_estimate_32_train_2000_test_24_radii", |b| {
        b.iter(|| {
            black_box(
                ScatterEstimator::new(&train.x, &test.x, 10).estimate_many(black_box(&deltas)),
            )
        })
    });
}

fn report(c: &mut Criterion) {
    let (net, train, test, dist) = setup();
    let inp = SectionFiveInput {
        model: &net,
        train: &train,
        test: &test,
        gradient_bound: dist.gradient_bound(),
        lr: 0.1,
        batch: 4,
    };
    let opts = GeneralizationOptions::new(vec![1, 2]);
    let mut group = c.benchmark_group("generalization");
    group.sample_size(10);
    group.bench_function("report_k12_24_radii", |b| {
        b.iter(|| {
            black_box(
                generalization(&inp, &opts, &|_| None, None, &sgdstab::NoProgress)
                    .expect("valid input"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, scatter, report);
criterion_main!(benches);
