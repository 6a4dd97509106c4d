//! Memory budget for dense work.

/// Bytes of memory the dense path may use: `SGDSTAB_MEMORY_BYTES` if set, else 80% of
/// `MemAvailable` from `/proc/meminfo`, else 8 GiB.
pub fn default_budget_bytes() -> u128 {
    if let Some(v) = std::env::var("SGDSTAB_MEMORY_BYTES")
        .ok()
        .and_then(|s| s.trim().parse::<u128>().ok())
    {
        return v;
    }
    available_bytes().map(|b| b / 5 * 4).unwrap_or(8u128 << 30)
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_bytes() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
