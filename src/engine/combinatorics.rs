//! Small exact combinatorics: binomial coefficients, factorials, integer partitions,
//! Stirling numbers of the second kind and counts of set partitions by shape.
//!
//! These are the integer tables behind the closed-form batch expectation
//! (DESIGN §3) and the dimensions of symmetric-tensor spaces (DESIGN §5).

/// `C(n, k)` exactly, or `None` if it overflows `u128`.
pub fn binomial(n: u128, k: u128) -> Option<u128> {
    if k > n {
        return Some(0);
    }
    let k = k.min(n - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        // acc * (n - i) / (i + 1) is exact at every step: acc = C(n, i).
        let g = gcd(acc, i + 1);
        let (a, d) = (acc / g, (i + 1) / g);
        let m = (n - i) / d; // d divides (n - i) * (acc / g) and gcd(a, d) = 1, so d | (n - i)
        acc = a.checked_mul(m)?;
    }
    Some(acc)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Dimension of `Sym^k(R^r)`: the number of multisets of size `k` from `r` elements,
/// `C(r + k - 1, k)`, or `None` if it overflows `u128`.
///
/// `sym_dim(0, 0) = 1` (the scalars) and `sym_dim(0, k) = 0` for `k >= 1`.
pub fn sym_dim(r: usize, k: usize) -> Option<u128> {
    if k == 0 {
        return Some(1);
    }
    if r == 0 {
        return Some(0);
    }
    binomial((r + k - 1) as u128, k as u128)
}

/// The number of integer partitions `p(m)` (`p(0) = 1`), by the recurrence over the largest
/// part; `None` on overflow. Counts without listing them ([`partitions`] lists them).
pub fn partition_count(m: usize) -> Option<u128> {
    // ways[s] = number of partitions of s into parts <= the current part size
    let mut ways = vec![0u128; m + 1];
    ways[0] = 1;
    for part in 1..=m {
        for s in part..=m {
            ways[s] = ways[s].checked_add(ways[s - part])?;
        }
    }
    Some(ways[m])
}

/// `n!` as `f64` (exact for `n <= 22`).
pub fn factorial(n: usize) -> f64 {
    (1..=n).fold(1.0, |acc, i| acc * i as f64)
}

/// All integer partitions of `m` as non-increasing part lists, in reverse lexicographic order
/// (`[m]` first, `[1, 1, ..., 1]` last). `partitions(0)` is `[[]]`.
pub fn partitions(m: usize) -> Vec<Vec<usize>> {
    fn rec(rest: usize, max: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if rest == 0 {
            out.push(cur.clone());
            return;
        }
        for p in (1..=rest.min(max)).rev() {
            cur.push(p);
            rec(rest - p, p, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    rec(m, m, &mut Vec::new(), &mut out);
    out
}

/// Number of set partitions of `{1..m}` whose block sizes are the parts of `shape`:
/// `m! / (prod_j shape_j! * prod_s mult_s!)`, where `mult_s` counts the parts equal to `s`.
pub fn set_partitions_of_shape(shape: &[usize]) -> f64 {
    let m: usize = shape.iter().sum();
    let mut denom = 1.0;
    for &p in shape {
        denom *= factorial(p);
    }
    denom *= multiplicity_factorials(shape);
    factorial(m) / denom
}

/// `prod_s mult_s!` where `mult_s` is the number of parts of `shape` equal to `s`.
pub fn multiplicity_factorials(shape: &[usize]) -> f64 {
    let mut sorted = shape.to_vec();
    sorted.sort_unstable();
    let mut acc = 1.0;
    let mut run = 0usize;
    for i in 0..sorted.len() {
        run += 1;
        if i + 1 == sorted.len() || sorted[i + 1] != sorted[i] {
            acc *= factorial(run);
            run = 0;
        }
    }
    acc
}

/// Stirling numbers of the second kind `S2(s, l)` for `0 <= l <= s <= max`, as a table
/// indexed `[s][l]` (exact integers stored in `f64`; exact for the small `max` used here).
pub fn stirling2_table(max: usize) -> Vec<Vec<f64>> {
    let mut t = vec![vec![0.0; max + 1]; max + 1];
    t[0][0] = 1.0;
    for s in 1..=max {
        for l in 1..=s {
            t[s][l] = l as f64 * t[s - 1][l] + t[s - 1][l - 1];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials_match_pascal() {
        for n in 0..40u128 {
            for k in 0..=n {
                let want = if k == 0 || k == n {
                    1
                } else {
                    binomial(n - 1, k - 1).unwrap() + binomial(n - 1, k).unwrap()
                };
                assert_eq!(binomial(n, k).unwrap(), want, "C({n},{k})");
            }
        }
        assert_eq!(binomial(3, 5), Some(0));
        assert_eq!(binomial(1000, 500), None);
    }

    #[test]
    fn partition_counts_are_the_partition_numbers() {
        let p: Vec<usize> = (0..12).map(|m| partitions(m).len()).collect();
        assert_eq!(p, vec![1, 1, 2, 3, 5, 7, 11, 15, 22, 30, 42, 56]);
    }

    #[test]
    fn shape_counts_sum_to_bell_numbers() {
        let bell = [1.0, 1.0, 2.0, 5.0, 15.0, 52.0, 203.0, 877.0, 4140.0];
        for (m, &b) in bell.iter().enumerate() {
            let s: f64 = partitions(m)
                .iter()
                .map(|p| set_partitions_of_shape(p))
                .sum();
            assert_eq!(s, b, "Bell({m})");
        }
    }

    #[test]
    fn stirling_rows_sum_to_bell_numbers() {
        let t = stirling2_table(8);
        let bell = [1.0, 1.0, 2.0, 5.0, 15.0, 52.0, 203.0, 877.0, 4140.0];
        for s in 0..=8 {
            assert_eq!(t[s].iter().sum::<f64>(), bell[s]);
        }
        assert_eq!(t[4][2], 7.0);
    }

    #[test]
    fn partition_counts_match_the_lists() {
        for m in 0..=20 {
            assert_eq!(
                partition_count(m),
                Some(partitions(m).len() as u128),
                "m = {m}"
            );
        }
        // p(100) = 190 569 292 (Hardy–Ramanujan's table)
        assert_eq!(partition_count(100), Some(190_569_292));
        assert_eq!(partition_count(100_000), None);
    }

    #[test]
    fn sym_dims() {
        assert_eq!(sym_dim(3, 2), Some(6));
        assert_eq!(sym_dim(60, 3), Some(37_820));
        assert_eq!(sym_dim(30, 4), Some(40_920));
        assert_eq!(sym_dim(0, 0), Some(1));
        assert_eq!(sym_dim(0, 2), Some(0));
    }
}
