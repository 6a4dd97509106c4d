//! Scale benchmarks of issue 5, each run once, printing wall time, peak memory and ratios.
//!
//! ```sh
//! cargo run --release --example scale            # everything (several minutes)
//! cargo run --release --example scale -- k2      # only the n = 1000, w = 100 000 case
//! cargo run --release --example scale -- k3 k4 crossover build
//! ```
//!
//! Peak memory is the process's `VmHWM` (Linux) — each case is best run alone to read it.

use sgdstab::engine::lanczos::{extreme_eigenvalues, LanczosOptions};
use sgdstab::engine::linop::{DenseSymmetric, SymmetricOperator};
use sgdstab::engine::matrix_free::{second_order_threshold, EigenCoords, MatrixFreeMoment};
use sgdstab::engine::moment_operator::MomentTerms;
use sgdstab::engine::spectrum::{symmetric_eigenvalues, EigenBackend};
use sgdstab::io::stream::StreamMode;
use sgdstab::{AnalyzeOptions, BatchModel, Hooks, Problem, ProblemOptions, Sampling};
use std::io::Write;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Rng(u64);
impl Rng {
    fn normal(&mut self) -> f64 {
        let mut u = || {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let (a, b) = (u().max(1e-300), u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

/// Writes an n × w float32 .npy row by row (never holding it): a_i = z_i ⊙ s + c_i u,
/// per-parameter scales s_j = 1/sqrt(1 + j/1000), a shared direction u.
fn write_synthetic_f32(path: &std::path::Path, n: usize, w: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {w}), }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    let mut rng = Rng(42);
    let u: Vec<f64> = (0..w).map(|_| 0.3 * rng.normal()).collect();
    let mut row = vec![0u8; 4 * w];
    for _ in 0..n {
        let c = rng.normal();
        for j in 0..w {
            let s = 1.0 / (1.0 + j as f64 / 1000.0).sqrt();
            let v = (rng.normal() * s + c * u[j]) / (w as f64).sqrt();
            row[4 * j..4 * j + 4].copy_from_slice(&(v as f32).to_le_bytes());
        }
        f.write_all(&row).unwrap();
    }
    f.flush().unwrap();
}

fn coords(n: usize, r: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed);
    (0..n * r)
        .map(|_| rng.normal() / (r as f64).sqrt())
        .collect()
}

fn k2_at_scale() {
    let (n, w) = (1000, 100_000);
    let dir = std::env::temp_dir().join("sgdstab-scale");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grads_1000x100000_f32.npy");
    if !path.exists() {
        let t = Instant::now();
        write_synthetic_f32(&path, n, w);
        println!(
            "k2: generated {} ({:.0} MB) in {:.1?}",
            path.display(),
            (n * w * 4) as f64 / 1e6,
            t.elapsed()
        );
    }
    let t0 = Instant::now();
    let popts = ProblemOptions::default()
        .max_order(2)
        .stream(StreamMode::Always);
    let problem = Problem::from_file(&path, &popts, Hooks::none()).unwrap();
    let t_red = t0.elapsed();
    let red = problem.reduction();
    let lmax = red.gram_eigenvalues[0] / n as f64; // upper bound on λ_max(H)
    let lr = 0.5 * 2.0 / lmax;
    let opts = AnalyzeOptions::default()
        .orders([2])
        .cone_max_iterations(Some(0));
    let rep = problem.analyze(lr, 32, &opts, Hooks::none()).unwrap();
    let t_rho = t0.elapsed();
    let ec = EigenCoords::new(&red.coords, n, red.rank).unwrap();
    let model = BatchModel::new(n, 32, Sampling::WithoutReplacement).unwrap();
    let th =
        second_order_threshold(&ec, &model, &LanczosOptions::default(), Hooks::none()).unwrap();
    let t_all = t0.elapsed();
    let o = &rep.orders[0];
    let b2 = o.blocks.iter().find(|b| b.j == 2).unwrap();
    println!(
        "k2: n = {n}, w = {w}, r = {}, D_2 = {}: streaming Gram and reduction {:.1?}, ρ_2 = {:.12} ± {:.1e} ({}, {} Lanczos products) at {:.1?}, η*_2 = {:.12} ± {:.1e} ({} products); total {:.1?} (goal 60 s), peak RSS {:.0} MiB (goal 2048)",
        red.rank,
        b2.dim,
        t_red,
        b2.radius,
        b2.error_bound,
        o.verdict,
        b2.lanczos.as_ref().map_or(0, |l| l.products),
        t_rho - t_red,
        th.lr_threshold,
        th.lr_threshold_error,
        th.products,
        t_all,
        peak_rss_mib()
    );
}

/// ρ_k by Lanczos at r = n; `lr_factor` scales 2/λ_max(H): 0.5 is far beyond the edge of
/// stability for k >= 3 (well-separated top eigenvalue), 0.05 near it (clustered, harder).
fn high_order(k: usize, r: usize, lr_factor: f64) {
    let n = r;
    let b = coords(n, r, 9);
    let model = BatchModel::new(n, 4, Sampling::WithoutReplacement).unwrap();
    let t0 = Instant::now();
    let ec = EigenCoords::new(&b, n, r).unwrap();
    let lmax = ec.h_eigenvalues.iter().cloned().fold(0.0, f64::max);
    let lr = lr_factor * 2.0 / lmax;
    let op = MatrixFreeMoment::new(&ec, k, lr, &model).unwrap();
    let t_setup = t0.elapsed();
    let res = extreme_eigenvalues(&op, &LanczosOptions::default());
    println!(
        "k{k}: r = n = {r}, D = {}, η = {lr_factor}·2/λmax(H): setup {:.2?}, ρ_{k} = {:.12} ± {:.1e} ({:?}, {} products, {} restarts), total {:.1?} (goal 60 s), peak RSS {:.0} MiB",
        op.dim(),
        t_setup,
        res.radius(),
        res.radius_error_bound(),
        res.termination,
        res.products,
        res.restarts,
        t0.elapsed(),
        peak_rss_mib()
    );
}

/// Dense build vs dense eigensolve at D ≈ 2000 (goal: build <= eigensolve).
fn build_vs_eigensolve() {
    for (k, r, n) in [(2, 62, 200), (3, 22, 200), (4, 14, 200)] {
        let b = coords(n, r, 3);
        let model = BatchModel::new(n, 8, Sampling::WithoutReplacement).unwrap();
        let t0 = Instant::now();
        let t = MomentTerms::new(&b, n, r, k, &model, false)
            .unwrap()
            .operator(0.3);
        let abs = MomentTerms::new(&b, n, r, k, &model, true)
            .unwrap()
            .operator(0.3);
        let t_build = t0.elapsed();
        let d = (t.len() as f64).sqrt() as usize;
        let t1 = Instant::now();
        let vals = symmetric_eigenvalues(&t, d, EigenBackend::Faer).unwrap();
        let t_eig = t1.elapsed();
        println!(
            "build: k = {k}, r = {r}, n = {n}, D = {d}: build (T and |T|) {:.3?}, faer eigensolve {:.3?}, ratio build/eigensolve {:.2} (goal <= 1) [λmax {:.4}, |T| {:.1}]",
            t_build,
            t_eig,
            t_build.as_secs_f64() / t_eig.as_secs_f64(),
            vals[d - 1],
            abs[0]
        );
    }
}

/// Matrix-free Lanczos vs dense build + eigensolve for ρ_k as D grows (k = 3, n = r).
fn crossover() {
    for r in [8, 12, 16, 20, 24, 28] {
        let (k, n) = (3, r);
        let b = coords(n, r, 5);
        let model = BatchModel::new(n, 4, Sampling::WithoutReplacement).unwrap();
        let ec = EigenCoords::new(&b, n, r).unwrap();
        let t0 = Instant::now();
        let t = MomentTerms::new(&ec.coords, n, r, k, &model, false)
            .unwrap()
            .operator(0.4);
        let d = (t.len() as f64).sqrt() as usize;
        let vals = symmetric_eigenvalues(&t, d, EigenBackend::Faer).unwrap();
        let rho_dense = vals[0].abs().max(vals[d - 1].abs());
        let t_dense = t0.elapsed();
        let t1 = Instant::now();
        let op = MatrixFreeMoment::new(&ec, k, 0.4, &model).unwrap();
        let res = extreme_eigenvalues(&op, &LanczosOptions::default());
        let t_mf = t1.elapsed();
        // one product each
        let x: Vec<f64> = (0..d).map(|i| (i as f64).sin()).collect();
        let mut y = vec![0.0; d];
        let t2 = Instant::now();
        DenseSymmetric::new(&t, d).apply(&x, &mut y);
        let t_dmv = t2.elapsed();
        let t3 = Instant::now();
        op.apply(&x, &mut y);
        let t_mmv = t3.elapsed();
        println!(
            "crossover: k = 3, r = n = {r}, D = {d}: dense ρ {:.3?}, matrix-free ρ {:.3?} (ratio dense/matrix-free {:.2}), |Δρ|/ρ = {:.1e}; one product dense {:.2?} vs matrix-free {:.2?}",
            t_dense,
            t_mf,
            t_dense.as_secs_f64() / t_mf.as_secs_f64(),
            (res.radius() - rho_dense).abs() / rho_dense,
            t_dmv,
            t_mmv
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |s| s.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string())
            )
            .unwrap_or_default()
    );
    if want("build") {
        build_vs_eigensolve();
    }
    if want("crossover") {
        crossover();
    }
    if want("k3") {
        high_order(3, 60, 0.5);
        high_order(3, 60, 0.05);
    }
    if want("k4") {
        high_order(4, 30, 0.5);
        high_order(4, 30, 0.05);
    }
    if want("k2") {
        k2_at_scale();
    }
}
