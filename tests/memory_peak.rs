//! The memory estimates of `sgdstab::memory` against the measured peak: a counting global
//! allocator (this test binary's own) records the live bytes; on representative inputs of each
//! path the peak above the baseline must stay below the path's estimate — the estimate the
//! tool checks against the budget before allocating.

use sgdstab::{AnalyzeOptions, Gradients, Hooks, Problem, ProblemOptions, ThresholdOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One measurement at a time (the test harness runs tests on several threads).
static SERIAL: Mutex<()> = Mutex::new(());

/// One matrix product on every thread of the rayon pool and on the calling thread, so that the
/// product kernel's per-thread packing buffer (address space kept for the life of the thread,
/// `sgdstab::memory::gemm_thread_reserve_bytes`, not part of the per-path estimates) exists
/// before a measurement starts. Returns the bytes it allocated (0 once every buffer exists).
fn warm_gemm() -> u128 {
    fn product() {
        let a = faer::Mat::<f64>::from_fn(256, 256, |i, j| (i + 2 * j) as f64);
        let mut c = faer::Mat::<f64>::zeros(256, 256);
        faer::linalg::matmul::matmul(
            &mut c,
            faer::Accum::Replace,
            &a,
            a.transpose(),
            1.0,
            faer::Par::Seq,
        );
        std::hint::black_box(&c);
    }
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    rayon::broadcast(|_| product());
    product();
    (PEAK.load(Ordering::SeqCst).saturating_sub(base)) as u128
}

/// Bytes allocated above the live bytes at the start, at the peak of `f` (after [`warm_gemm`]).
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, u128) {
    warm_gemm();
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let v = f();
    let peak = PEAK.load(Ordering::SeqCst);
    (v, peak.saturating_sub(base) as u128)
}

fn matrix(n: usize, w: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..n * w)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

#[track_caller]
fn assert_below(what: &str, measured: u128, estimate: u128) {
    eprintln!("{what}: measured peak {measured} bytes, estimate {estimate} bytes");
    assert!(measured > 0, "{what}: nothing measured");
    assert!(
        measured <= estimate,
        "{what}: measured peak {measured} bytes above the estimate {estimate}"
    );
}

/// The product kernel's per-thread buffers stay within what the budget subtracts from the
/// `RLIMIT_AS` headroom for them, and a second warm-up allocates nothing.
#[test]
fn the_product_kernels_thread_buffers_are_within_their_estimate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let first = warm_gemm();
    eprintln!(
        "product kernel buffers: {first} bytes, estimate {} per thread, {} in all",
        sgdstab::memory::gemm_thread_reserve_bytes(),
        sgdstab::memory::gemm_reserve_bytes()
    );
    assert!(first <= sgdstab::memory::gemm_reserve_bytes() + (4 << 20));
    assert!(warm_gemm() <= 4 << 20);
}

#[test]
fn reading_files_stays_below_the_estimate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    for (n, w) in [(2000, 50), (40, 6000)] {
        let data = matrix(n, w, 3);
        let path = dir.path().join("g.npy");
        sgdstab::io::write_npy(&path, &[n, w], &data).unwrap();
        let len = std::fs::metadata(&path).unwrap().len() as u128;
        let (r, peak) = peak_of(|| sgdstab::io::read_input(&path, &Default::default()));
        let r = r.unwrap();
        assert_eq!((r.gradients.n(), r.gradients.w()), (n, w));
        drop(r);
        assert_below(
            &format!("npy {n}×{w}"),
            peak,
            sgdstab::memory::read_file(len, (n * w) as u128),
        );
    }
    // text
    let (n, w) = (500, 40);
    let data = matrix(n, w, 5);
    let text: String = data
        .chunks(w)
        .map(|r| {
            r.iter()
                .map(|x| format!("{x:.6}"))
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    let path = dir.path().join("g.csv");
    std::fs::write(&path, &text).unwrap();
    let (r, peak) = peak_of(|| sgdstab::io::read_input(&path, &Default::default()));
    drop(r.unwrap());
    assert_below(
        "csv 500×40",
        peak,
        sgdstab::memory::read_file(text.len() as u128, (n * w) as u128),
    );
}

/// float16 members of an NPZ: the inflated bytes, then 4× as many bytes of float64 values and
/// their copy in the gradient matrix (what the old budget did not count).
#[test]
fn inflating_npz_stays_below_the_estimate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (n, widths) = (400usize, [300usize, 500, 200]);
    let path = dir.path().join("g.npz");
    let mut inflated = 0u128;
    {
        let f = std::fs::File::create(&path).unwrap();
        let mut z = zip::ZipWriter::new(f);
        for (i, &w) in widths.iter().enumerate() {
            let mut member = sgdstab::io::npy::to_bytes(&[n, w], &vec![0.0; n * w]);
            let header_len = member.len() - 8 * n * w;
            let at = member.windows(3).position(|x| x == b"<f8").unwrap();
            member[at + 2] = b'2';
            member.truncate(header_len);
            // float16 0.25 · (1 + i): 0x3400 is 0.25
            let h: u16 = 0x3400 + ((i as u16) << 10);
            for k in 0..n * w {
                let v = if k % 7 == 0 { h } else { 0x3c00 };
                member.extend_from_slice(&v.to_le_bytes());
            }
            inflated += member.len() as u128;
            z.start_file(
                format!("p{i}.npy"),
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            z.write_all(&member).unwrap();
        }
        z.finish().unwrap();
    }
    let len = std::fs::metadata(&path).unwrap().len() as u128;
    let values = (n * widths.iter().sum::<usize>()) as u128;
    let (r, peak) = peak_of(|| sgdstab::io::read_input(&path, &Default::default()));
    let r = r.unwrap();
    assert_eq!(r.gradients.w(), 1000);
    drop(r);
    assert_below(
        "npz float16 400×1000",
        peak,
        sgdstab::memory::read_npz(len, inflated, values),
    );
}

#[test]
fn the_span_reduction_stays_below_the_estimate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (n, w) in [(300, 2000), (2000, 300), (500, 500)] {
        let g = Gradients::from_row_major(n, w, matrix(n, w, 7), "m").unwrap();
        let (p, peak) = peak_of(|| {
            Problem::from_gradients(&g, &ProblemOptions::default(), Hooks::none()).unwrap()
        });
        assert!(p.rank() > 0);
        drop(p);
        assert_below(
            &format!("reduction {n}×{w}"),
            peak,
            sgdstab::memory::reduction(n, w),
        );
    }
}

#[test]
fn streaming_stays_below_the_estimate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (n, w) = (200, 20_000);
    let path = dir.path().join("wide.npy");
    sgdstab::io::write_npy(&path, &[n, w], &matrix(n, w, 9)).unwrap();
    let block = 2000;
    let (s, peak) = peak_of(|| {
        sgdstab::io::stream::stream_gram(&path, &[1, 2], Some(block), &sgdstab::NoProgress).unwrap()
    });
    assert_eq!(s.n, n);
    drop(s);
    assert_below(
        "streamed 200×20000",
        peak,
        sgdstab::memory::streamed_reduction(n, w, n * block),
    );
}

/// A dense block (`T_3` on `Sym^3(R^12)`, D = 364) and a stable-set polynomial (`T_2` on
/// `Sym^2(R^20)`, D = 210, linearized): the peak of the solve above the reduced problem.
#[test]
fn dense_blocks_and_polynomials_stay_below_the_estimate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (n, w) = (12, 40);
    let g = Gradients::from_row_major(n, w, matrix(n, w, 11), "m").unwrap();
    let p = Problem::from_gradients(&g, &ProblemOptions::default().max_order(3), Hooks::none())
        .unwrap();
    let r = p.rank();
    let opts = AnalyzeOptions::default().orders([3]);
    let (rep, peak) = peak_of(|| p.analyze(0.01, 4, &opts, Hooks::none()).unwrap());
    drop(rep);
    // blocks j = 1..3 are solved one after the other; the largest dominates
    let est = (1..=3)
        .map(|j| sgdstab::memory::dense_block(r, j))
        .sum::<u128>()
        + sgdstab::memory::sym_vectors(r, 3, 8);
    assert_below("dense T_3, r = 12", peak, est);

    let (n, w) = (20, 30);
    let g = Gradients::from_row_major(n, w, matrix(n, w, 13), "m").unwrap();
    let p = Problem::from_gradients(&g, &ProblemOptions::default(), Hooks::none()).unwrap();
    let r = p.rank();
    let d = (r * (r + 1) / 2) as u128;
    let opts = ThresholdOptions::default()
        .orders([2])
        .method(sgdstab::MethodChoice::Linearization);
    let (rep, peak) = peak_of(|| p.thresholds(5, &opts, Hooks::none()).unwrap());
    drop(rep);
    let est = sgdstab::memory::polynomial_block(r, 2)
        + sgdstab::memory::companion(2 * d)
        + sgdstab::memory::polynomial_block(r, 1);
    assert_below("stable set of T_2, r = 20", peak, est);
}
