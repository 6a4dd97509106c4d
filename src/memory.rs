//! The memory budget, and one peak-memory estimate per path, checked before allocating.
//!
//! # Budget
//!
//! [`default_budget_bytes`]: `SGDSTAB_MEMORY_BYTES` if set, else the smallest of
//! - 80% of `MemAvailable` (`/proc/meminfo`);
//! - the headroom under the process's soft `RLIMIT_AS` (limit − current virtual size) and
//!   `RLIMIT_DATA` (limit − current data segment), from `/proc/self/limits` and
//!   `/proc/self/status` (`prlimit --as`, `ulimit -v`);
//! - the headroom of the memory cgroup and each of its ancestors: cgroup v2 `memory.max −
//!   memory.current`, cgroup v1 `memory.limit_in_bytes − memory.usage_in_bytes` (containers,
//!   `systemd-run -p MemoryMax=`);
//!
//! else 8 GiB when none of these can be read.
//!
//! # Estimates
//!
//! Each path that allocates in proportion to its input has an estimate here of its peak (the
//! largest set of buffers live at once, in bytes), checked by [`check`] before the first large
//! allocation; `tests/memory_peak.rs` measures the real peak with a counting allocator and
//! asserts it stays below the estimate:
//!
//! | path | estimate |
//! |---|---|
//! | reading a file whole (NPY, text, safetensors) | [`read_file`] |
//! | reading and inflating an NPZ archive, then assembling the matrix | [`read_npz`] |
//! | the span reduction of an in-memory `n × w` matrix (Gram matrix, its eigendecomposition, coordinates) | [`reduction`] |
//! | the streamed Gram matrix of a `.npy` file | [`streamed_reduction`] |
//! | `count` vectors on `Sym^k(R^r)` (matrix-free products, Lanczos bases, simulation moments) | [`sym_vectors`] |
//! | a dense `D × D` block and its eigensolve | [`dense_block`] |
//! | the stable-set polynomial `C_0..C_k` of a block, and its companion linearization | [`polynomial_block`], [`companion`] |
//!
//! Solver workspaces are estimated next to their solvers (`crate::engine`) and checked against
//! the same budget by the planner.
//!
//! # The matrix-product kernel's per-thread buffer
//!
//! faer's x86 matrix-product kernel keeps, in each thread that runs a product, one packing buffer
//! of twice the last-level cache (as the kernel sizes it: `2 × L3 / (CPUs sharing it) × cores`,
//! 520 MiB on a 2-core machine reporting a 260 MiB L3) for the life of the thread. It is address
//! space, not resident memory: only the pages a product packs into are touched (a few MB for the
//! products here). So the estimates above leave it out and [`default_budget_bytes`] ignores it
//! against `MemAvailable` and the cgroup, but subtracts it, for every thread that may run a
//! product ([`gemm_reserve_bytes`]), from the `RLIMIT_AS` headroom, where reserved address space
//! is what counts. `tests/memory_peak.rs` measures each path twice: the first run may add these
//! buffers, the second must stay below the estimate alone.

use crate::engine::combinatorics::sym_dim;
use crate::error::{Error, Param, Result};
use std::path::Path;

/// Budget when nothing can be read (no `/proc`): 8 GiB.
pub const FALLBACK_BUDGET_BYTES: u128 = 8 << 30;

/// Bytes of memory the tool may use: `SGDSTAB_MEMORY_BYTES` if set, else the smallest of 80% of
/// `MemAvailable`, the `RLIMIT_AS` / `RLIMIT_DATA` headroom and the cgroup headroom (module
/// documentation), else [`FALLBACK_BUDGET_BYTES`].
pub fn default_budget_bytes() -> u128 {
    if let Some(v) = std::env::var("SGDSTAB_MEMORY_BYTES")
        .ok()
        .and_then(|s| s.trim().parse::<u128>().ok())
    {
        return v;
    }
    [
        available_bytes().map(|b| b / 5 * 4),
        rlimit_headroom().map(|h| h.saturating_sub(gemm_reserve_bytes())),
        cgroup_headroom(Path::new("/"), None),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(FALLBACK_BUDGET_BYTES)
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_bytes() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The smaller headroom under the soft `RLIMIT_AS` and `RLIMIT_DATA` of this process, `None`
/// when both are unlimited (or `/proc` cannot be read).
pub fn rlimit_headroom() -> Option<u128> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    rlimit_headroom_from(&limits, &status)
}

/// Address space the x86 matrix-product kernel reserves in one thread that runs a product (module
/// documentation): `2 × L3 / (CPUs sharing it) × cores`, the L3 read from
/// `/sys/devices/system/cpu/cpu0/cache`; 0 on other architectures or when it cannot be read.
pub fn gemm_thread_reserve_bytes() -> u128 {
    if !cfg!(target_arch = "x86_64") {
        return 0;
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as u128;
    let dir = Path::new("/sys/devices/system/cpu/cpu0/cache");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut best = 0u128;
    for e in entries.flatten() {
        let d = e.path();
        if read(&d.join("level")).trim() != "3" {
            continue;
        }
        let Some(bytes) = parse_cache_size(read(&d.join("size")).trim()) else {
            continue;
        };
        let shared = cpu_list_len(read(&d.join("shared_cpu_list")).trim()).max(1) as u128;
        best = best.max(2 * bytes / shared * cores);
    }
    best
}

/// [`gemm_thread_reserve_bytes`] for every thread that may run a product: the rayon pool and the
/// calling thread.
pub fn gemm_reserve_bytes() -> u128 {
    gemm_thread_reserve_bytes().saturating_mul(rayon::current_num_threads() as u128 + 1)
}

/// `266240K` → bytes (sysfs cache sizes: a number with an optional `K`, `M` or `G`).
fn parse_cache_size(s: &str) -> Option<u128> {
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let v: u128 = num.parse().ok()?;
    let scale = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    Some(v * scale)
}

/// The number of CPUs in a sysfs CPU list such as `0-3,8,10-11`.
fn cpu_list_len(s: &str) -> usize {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(p.parse::<usize>().is_ok()),
        })
        .sum()
}

/// [`rlimit_headroom`] from the texts of `/proc/self/limits` and `/proc/self/status`.
pub fn rlimit_headroom_from(limits: &str, status: &str) -> Option<u128> {
    let soft = |name: &str| -> Option<u128> {
        let line = limits.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    let used_kb = |key: &str| -> u128 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l[key.len()..].split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    [
        soft("Max address space").map(|l| l.saturating_sub(used_kb("VmSize:") * 1024)),
        soft("Max data size").map(|l| l.saturating_sub(used_kb("VmData:") * 1024)),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// The smallest headroom (limit − usage) of this process's memory cgroup and its ancestors,
/// read under `root` (`/` on a live system; a directory tree in tests). `proc_cgroup` is the
/// text of `/proc/self/cgroup` (read from `root` when `None`). `None` when no limit is set.
pub fn cgroup_headroom(root: &Path, proc_cgroup: Option<&str>) -> Option<u128> {
    let owned;
    let text = match proc_cgroup {
        Some(t) => t,
        None => {
            owned = std::fs::read_to_string(root.join("proc/self/cgroup")).ok()?;
            &owned
        }
    };
    let read = |p: &Path| -> Option<u128> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    // a limit of 2^62 or more is "no limit" (cgroup v1 writes 2^63 − 4096)
    let real = |v: u128| (v < 1u128 << 62).then_some(v);
    let mut best: Option<u128> = None;
    let mut consider = |dir: &Path, max: &str, used: &str| {
        let Some(limit) = read(&dir.join(max)).and_then(real) else {
            return;
        };
        let usage = read(&dir.join(used)).unwrap_or(0);
        let head = limit.saturating_sub(usage);
        best = Some(best.map_or(head, |b: u128| b.min(head)));
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (base, max, used) = if id == "0" && controllers.is_empty() {
            (root.join("sys/fs/cgroup"), "memory.max", "memory.current")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                root.join("sys/fs/cgroup/memory"),
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        } else {
            continue;
        };
        // the cgroup's directory and its ancestors up to the mount point (inside a cgroup
        // namespace the path may not exist below the mount: then the mount point is the group)
        let mut rel = Path::new(path.trim_start_matches('/')).to_path_buf();
        loop {
            let dir = base.join(&rel);
            if dir.is_dir() {
                consider(&dir, max, used);
            }
            if !rel.pop() {
                break;
            }
        }
    }
    best
}

/// Errors with [`Error::TooLarge`] when `needed` exceeds `budget`; `what` names the allocation
/// with its dimensions, `hint` what to lower.
pub fn check(what: impl FnOnce() -> String, needed: u128, budget: u128, hint: &str) -> Result<()> {
    if needed > budget {
        return Err(Error::too_large(what(), needed, budget, hint));
    }
    Ok(())
}

/// The hint of a refused input: what can be done about it.
pub fn input_hint() -> String {
    format!(
        "use fewer samples or parameters ({} for one array), or raise {}",
        Param::Key.quoted(),
        Param::MemoryBudget.quoted()
    )
}

fn mul(a: u128, b: u128) -> u128 {
    a.saturating_mul(b)
}

/// Peak of reading a file whole (NPY, text, safetensors) holding `values` numbers: the file
/// bytes, the parsed `f64` values and the matrix the gradients are stored in.
pub fn read_file(file_bytes: u128, values: u128) -> u128 {
    file_bytes.saturating_add(mul(values, 16))
}

/// Peak of reading an NPZ archive of `file_bytes` whose members inflate to `inflated_bytes` and
/// hold `values` numbers: the archive, every inflated member, each member's values as `f64` and
/// their copy in the assembled matrix (the reader checks this member by member, [`crate::io::npz`]).
pub fn read_npz(file_bytes: u128, inflated_bytes: u128, values: u128) -> u128 {
    file_bytes
        .saturating_add(inflated_bytes)
        .saturating_add(mul(values, 16))
}

/// Peak of the span reduction of an in-memory `n × w` matrix (the matrix itself not counted):
/// the `m × m` Gram matrix (`m = min(n, w)`), its eigendecomposition (eigenvectors and faer's
/// workspace, about three more `m × m`), the `n × min(n, w)` coordinates and per-row statistics,
/// and up to four `n × w` working copies (the product's packed operands and the blocks of the
/// borrowed-view path; measured at 4.3 copies for 300 × 2000 by `tests/memory_peak.rs`).
pub fn reduction(n: usize, w: usize) -> u128 {
    let m = n.min(w) as u128;
    mul(mul(m, m), 8 * 5)
        .saturating_add(mul(mul(n as u128, m), 8))
        .saturating_add(mul(n as u128, 64))
        .saturating_add(mul(mul(n as u128, w as u128), 8 * 4))
}

/// Peak of the streamed reduction of a `.npy` file (`n × w`, read `block_values` values at a
/// time): the `n × n` Gram matrix and its eigendecomposition as in [`reduction`], and the blocks
/// in flight (one being read, one queued, one in the product, each as raw bytes and as `f64`,
/// with the product's packed copies: ten `f64` blocks, measured by `tests/memory_peak.rs`).
pub fn streamed_reduction(n: usize, _w: usize, block_values: usize) -> u128 {
    let nn = mul(n as u128, n as u128);
    mul(nn, 8 * 6).saturating_add(mul(block_values as u128, 8 * 10))
}

/// Bytes of `count` `f64` vectors on `Sym^k(R^r)` (`D = C(r + k − 1, k)` each); `u128::MAX`
/// when `D` overflows.
pub fn sym_vectors(r: usize, k: usize, count: usize) -> u128 {
    match sym_dim(r, k) {
        Some(d) => mul(mul(d, count as u128), 8),
        None => u128::MAX,
    }
}

/// Peak of a dense block `T_k` on `Sym^k(R^r)`: four `D × D` matrices (the operator, the
/// eigensolver's copy, eigenvectors, workspace) and the closed form's per-partition tables
/// ([`crate::engine::moment_operator::dense_bytes`], the one estimate of this path).
pub fn dense_block(r: usize, k: usize) -> u128 {
    crate::engine::moment_operator::dense_bytes(r, k).unwrap_or(u128::MAX)
}

/// Peak of the stable-set polynomial of block `T_k` on `Sym^k(R^r)`: the `k + 1` coefficient
/// matrices `C_0..C_k` (`D × D` each), an evaluation `T(η)` and its eigensolve (three more).
pub fn polynomial_block(r: usize, k: usize) -> u128 {
    match sym_dim(r, k) {
        Some(d) => mul(mul(d, d), 8 * (k as u128 + 4)),
        None => u128::MAX,
    }
}

/// Peak of the companion linearizations of a block with `rows` rows (the `+1` and `−1`
/// problems): the real matrices, the general eigensolver's complex Schur form, eigenvectors and
/// workspace — about 32 `f64` matrices of `rows × rows` (measured by `tests/memory_peak.rs`).
pub fn companion(rows: u128) -> u128 {
    mul(mul(rows, rows), 8 * 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_cache_sizes_and_cpu_lists_parse() {
        assert_eq!(parse_cache_size("266240K"), Some(266240 << 10));
        assert_eq!(parse_cache_size("32M"), Some(32 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("12Q"), None);
        assert_eq!(parse_cache_size(""), None);
        assert_eq!(cpu_list_len("0-1"), 2);
        assert_eq!(cpu_list_len("0-3,8,10-11"), 7);
        assert_eq!(cpu_list_len("5"), 1);
        assert_eq!(cpu_list_len(""), 0);
    }

    #[test]
    fn rlimits_are_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
            Max data size             unlimited            unlimited            bytes\n\
            Max address space         2000000000           unlimited            bytes\n";
        let status = "VmPeak:\t 100 kB\nVmSize:\t    500000 kB\nVmData:\t 1000 kB\n";
        assert_eq!(
            rlimit_headroom_from(limits, status),
            Some(2_000_000_000 - 500_000 * 1024)
        );
        let limits = limits.replace(
            "2000000000           unlimited",
            "unlimited            unlimited",
        );
        assert_eq!(rlimit_headroom_from(&limits, status), None);
        let limits = limits.replace(
            "Max data size             unlimited",
            "Max data size             3000000",
        );
        assert_eq!(
            rlimit_headroom_from(&limits, status),
            Some(3_000_000 - 1_024_000)
        );
    }

    #[test]
    fn cgroup_limits_of_the_group_and_its_ancestors() {
        let root = tempfile_dir();
        let v2 = root.join("sys/fs/cgroup/a/b");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("memory.max"), "max\n").unwrap();
        std::fs::write(v2.join("memory.current"), "100\n").unwrap();
        let parent = root.join("sys/fs/cgroup/a");
        std::fs::write(parent.join("memory.max"), "5000\n").unwrap();
        std::fs::write(parent.join("memory.current"), "1200\n").unwrap();
        assert_eq!(cgroup_headroom(&root, Some("0::/a/b\n")), Some(3800));
        // v1, with the path below the mount missing (a cgroup namespace): the mount point
        let v1 = root.join("sys/fs/cgroup/memory");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v1.join("memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(cgroup_headroom(&root, Some("4:memory:/x/y\n")), None);
        std::fs::write(v1.join("memory.limit_in_bytes"), "1000000\n").unwrap();
        std::fs::write(v1.join("memory.usage_in_bytes"), "250000\n").unwrap();
        assert_eq!(
            cgroup_headroom(&root, Some("5:cpu:/\n4:memory:/x/y\n")),
            Some(750_000)
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sgdstab-memory-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn estimates_grow_with_the_sizes_and_saturate() {
        assert!(reduction(100_000, 1) < 20 << 20);
        assert!(reduction(1000, 100_000) >= 1000 * 1000 * 8);
        assert_eq!(sym_vectors(1000, 32, 1), u128::MAX);
        assert_eq!(sym_vectors(3, 2, 2), 6 * 2 * 8);
        assert_eq!(dense_block(1 << 40, 4), u128::MAX);
    }
}
