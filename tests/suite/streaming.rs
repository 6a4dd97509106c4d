//! The streaming Gram reader (issue 5) against the in-memory path.

use crate::common::*;
use sgdstab::engine::bounds::MomentStats;
use sgdstab::io::stream::{stream_gram, StreamMode};
use sgdstab::{AnalyzeOptions, Gradients, Hooks, NoProgress, Problem, ProblemOptions};

/// NPY bytes of an `n × w` matrix in float32 (C or Fortran order).
fn npy_f32(n: usize, w: usize, data: &[f64], fortran: bool) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': {}, 'shape': ({n}, {w}), }}",
        if fortran { "True" } else { "False" }
    );
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for idx in 0..n * w {
        let (i, j) = if fortran {
            (idx % n, idx / n)
        } else {
            (idx / w, idx % w)
        };
        out.extend_from_slice(&(data[i * w + j] as f32).to_le_bytes());
    }
    out
}

#[test]
fn streamed_gram_and_moments_equal_in_memory() {
    let mut rng = Rng::new(31);
    let (n, w) = (7, 53);
    let data: Vec<f64> = rng.matrix(n, w).concat();
    let dir = tempfile::tempdir().unwrap();
    let f64_path = dir.path().join("a.npy");
    std::fs::write(&f64_path, sgdstab::io::npy::to_bytes(&[n, w], &data)).unwrap();
    let g = Gradients::from_row_major(n, w, data.clone(), "mem").unwrap();
    let want = MomentStats::from_gradients(&g, &[1, 2, 3]);
    for block in [1, 5, 16, 53, 100] {
        let s = stream_gram(&f64_path, &[1, 2, 3], Some(block), &NoProgress).unwrap();
        let stats = MomentStats::from_power_sums(s.n, s.w, &s.power);
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = g.row(i).iter().zip(g.row(j)).map(|(a, b)| a * b).sum();
                assert!(
                    (s.gram[i + j * n] - dot).abs() <= 1e-12 * (1.0 + dot.abs()),
                    "block {block}"
                );
            }
        }
        for k in 1..=3 {
            let (a, ia) = stats.max_column_moment[&k];
            let (b, ib) = want.max_column_moment[&k];
            assert_eq!(ia, ib);
            assert!((a - b).abs() <= 1e-12 * b);
            let (a, b) = (stats.mean_row_norm[&k], want.mean_row_norm[&k]);
            assert!((a - b).abs() <= 1e-12 * b);
        }
    }
    // Fortran order, float32: equal to the float32-rounded in-memory values
    let rounded: Vec<f64> = data.iter().map(|&x| x as f32 as f64).collect();
    let gf = Gradients::from_row_major(n, w, rounded, "mem").unwrap();
    for fortran in [false, true] {
        let p = dir.path().join(format!("f32_{fortran}.npy"));
        std::fs::write(&p, npy_f32(n, w, &data, fortran)).unwrap();
        let s = stream_gram(&p, &[2], Some(8), &NoProgress).unwrap();
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = gf.row(i).iter().zip(gf.row(j)).map(|(a, b)| a * b).sum();
                assert!((s.gram[i + j * n] - dot).abs() <= 1e-12 * (1.0 + dot.abs()));
            }
        }
    }
}

#[test]
fn float32_stream_gives_the_float64_verdicts() {
    // a clear margin: verdicts cannot flip under float32 rounding
    let mut rng = Rng::new(8);
    let (n, w) = (6, 40);
    let data: Vec<f64> = rng.matrix(n, w).concat();
    let g = Gradients::from_row_major(n, w, data.clone(), "mem").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g32.npy");
    std::fs::write(&p, npy_f32(n, w, &data, false)).unwrap();
    for (lr, expect_stable) in [(0.02, true), (0.3, false)] {
        let opts = AnalyzeOptions::default().orders([1, 2, 3]);
        let mem = sgdstab::analyze(&g, lr, 2, &opts).unwrap();
        let popts = ProblemOptions::default()
            .max_order(3)
            .stream(StreamMode::Always);
        let problem = Problem::from_file(&p, &popts, Hooks::none()).unwrap();
        assert!(problem.streamed());
        let st = problem.analyze(lr, 2, &opts, Hooks::none()).unwrap();
        assert!(st.streamed);
        for (a, b) in mem.orders.iter().zip(&st.orders) {
            assert_eq!(a.verdict, b.verdict, "k={}", a.k);
            assert_eq!(
                a.verdict == sgdstab::Verdict::Stable,
                expect_stable,
                "k={} lr={lr}",
                a.k
            );
            assert!((a.reduced_radius - b.reduced_radius).abs() < 1e-5);
            assert_eq!(a.theorem2.holds, b.theorem2.holds);
        }
    }
}

#[test]
fn non_finite_value_in_a_stream_names_row_and_column() {
    let (n, w) = (3, 10);
    let mut data = vec![1.0; n * w];
    data[2 * w + 7] = f64::NAN;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.npy");
    std::fs::write(&p, sgdstab::io::npy::to_bytes(&[n, w], &data)).unwrap();
    let e = stream_gram(&p, &[1], Some(4), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 2, column 7"), "{e}");
    let mut bytes = sgdstab::io::npy::to_bytes(&[n, w], &[1.0; 30]);
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&p, bytes).unwrap();
    let e = stream_gram(&p, &[1], None, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
}
