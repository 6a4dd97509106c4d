//! The cancellation hook: a flag set before the call stops `analyze`, `thresholds`, `diagram` and
//! the construction of a problem with `Error::Cancelled`; a flag set from another thread stops a
//! long matrix-free run (a Lanczos that would run for hours) within one operator product — the
//! exact count is checked in the unit test of `engine::cancellable`; here the run must end at
//! all, and well before it would have.

use sgdstab::{
    AnalyzeOptions, DiagramOptions, Error, GradientView, Gradients, Hooks, NoProgress,
    OperatorMethod, Problem, ProblemOptions, SolverOptions, ThresholdOptions,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn rows(n: usize, w: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            (0..w)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_preset_flag_cancels_every_entry_point() {
    let g = Gradients::from_rows(&rows(6, 4, 1)).unwrap();
    let popts = ProblemOptions::default().max_order(3);
    let p = Problem::from_gradients(&g, &popts, Hooks::none()).unwrap();
    let flag = AtomicBool::new(true);
    let h = Hooks::new(&NoProgress, &flag);
    let cancelled = |r: Result<(), Error>| matches!(r, Err(Error::Cancelled));
    assert!(cancelled(
        p.analyze(0.1, 2, &AnalyzeOptions::default(), h).map(|_| ())
    ));
    let mf = AnalyzeOptions::default()
        .orders([1, 2, 3])
        .solver(SolverOptions::default().method(OperatorMethod::MatrixFree));
    assert!(cancelled(p.analyze(0.1, 2, &mf, h).map(|_| ())));
    assert!(cancelled(
        p.thresholds(2, &ThresholdOptions::default(), h).map(|_| ())
    ));
    let scale = ThresholdOptions::default()
        .orders([3])
        .solver(SolverOptions::default().max_dense_dim(1));
    assert!(cancelled(p.thresholds(2, &scale, h).map(|_| ())));
    assert!(cancelled(
        p.diagram(&DiagramOptions::default(), h).map(|_| ())
    ));
    assert!(cancelled(
        Problem::from_gradients(&g, &popts, h).map(|_| ())
    ));
    let data: Vec<f32> = g.as_slice().iter().map(|&x| x as f32).collect();
    assert!(cancelled(
        Problem::from_view(GradientView::f32_row_major(&data, 6, 4), &popts, h).map(|_| ())
    ));
    // the same calls without the flag succeed
    flag.store(false, Ordering::Relaxed);
    assert!(p.analyze(0.1, 2, &mf, h).is_ok());
    assert!(p.thresholds(2, &scale, h).is_ok());
}

#[test]
fn a_flag_set_from_another_thread_stops_a_long_matrix_free_run() {
    // k = 3 at r = n = 30 (D = 4960), matrix-free, with a Lanczos that cannot converge
    // (tolerance at the smallest positive float) and may apply the operator 10⁷ times: hours.
    let g = Gradients::from_rows(&rows(30, 30, 2)).unwrap();
    let p = Problem::from_gradients(&g, &ProblemOptions::default().max_order(3), Hooks::none())
        .unwrap();
    let mut solver = SolverOptions::default()
        .method(OperatorMethod::MatrixFree)
        .lanczos_tolerance(f64::MIN_POSITIVE);
    solver.lanczos.max_products = 10_000_000;
    solver.lanczos.max_basis = 400;
    let opts = AnalyzeOptions::default().orders([3]).solver(solver);
    let flag = AtomicBool::new(false);
    let (result, waited) = std::thread::scope(|s| {
        let run = s.spawn(|| p.analyze(0.05, 5, &opts, Hooks::new(&NoProgress, &flag)));
        std::thread::sleep(Duration::from_millis(300));
        let asked = Instant::now();
        flag.store(true, Ordering::Relaxed);
        let r = run.join().unwrap();
        (r, asked.elapsed())
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    // a liveness bound, not a speed target: one product here takes milliseconds
    assert!(waited < Duration::from_secs(20), "stopped after {waited:?}");
}
