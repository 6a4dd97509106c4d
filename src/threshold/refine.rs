//! Locating one boundary of a stable set to working precision, with a verified bracket; and the
//! bracketing scan of the bisection fallback.
//!
//! Both work on an *excess* function `f(η)` with an error bound (for one block
//! `max(λ_max(M(η)), −1 − λ_min(T_j(η)))`, with `M` the inertia matrix of [`crate::engine::inertia`] whose
//! top eigenvalue has the sign of `λ_max(T_j) − 1`; for an order the maximum over its blocks): its sign
//! is *certified* at `η` when `|f(η)|` exceeds the bound — then, by Weyl's inequality, the exact
//! operator is certainly stable (`f < 0`) or certainly unstable (`f > 0`) there.
//!
//! # The error bound of a boundary
//!
//! [`refine`] returns a **verified bracket** `[lo, hi]`: `f` has certified, opposite signs at
//! `lo` and `hi`, so (by continuity) the exact operator changes stability inside it. The
//! reported boundary is the best estimate inside the bracket and its error bound is its distance
//! to the farther end. The bracket cannot shrink below the band where `|f| <=` its error bound,
//! whose width is about (eigenvalue error bound) / `|dλ/dη|`: that is the attainable accuracy,
//! and the reported error says so instead of claiming more.

use crate::error::Result;

/// `f(η)` and its error bound.
pub type Excess = (f64, f64);

/// A refined boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refined {
    /// Best estimate of the boundary.
    pub lr: f64,
    /// `max(lr − lo, hi − lr)`.
    pub error: f64,
    /// The bracket `[lo, hi]`.
    pub bracket: [f64; 2],
    /// Whether both ends of the bracket are certified (else the bracket is the classification
    /// interval the boundary was found in, with uncertified signs).
    pub verified: bool,
    /// The stable side is below the boundary (`f(lo) < 0`).
    pub stable_below: bool,
}

fn sign(e: Excess) -> i8 {
    if e.0 > e.1 {
        1
    } else if e.0 < -e.1 {
        -1
    } else {
        0
    }
}

/// Refines a boundary estimated at `estimate`, known to lie in `limits = (a, b)` where the
/// excess has opposite (classified, perhaps uncertified) signs at `a` and `b`.
///
/// Steps: (1) grow a relative bracket `estimate·(1 ± δ)`, `δ = 1e-13, 8e-13, …`, until both
/// ends have certified opposite signs (falling back to `limits`); (2) Illinois (modified regula
/// falsi) iterations, each new point replacing the end with its certified sign; (3) once a point
/// lands in the uncertain band, bisect between it and each end to push the certified ends
/// against the band. At most `max_evals` evaluations of `f`.
pub fn refine<F>(f: F, estimate: f64, limits: (f64, f64), max_evals: usize) -> Result<Refined>
where
    F: Fn(f64) -> Result<Excess>,
{
    let (a, b) = limits;
    let evals = std::cell::Cell::new(0usize);
    let eval = |x: f64| -> Result<Excess> {
        evals.set(evals.get() + 1);
        f(x)
    };
    // (1) initial bracket around the estimate; if that fails, bisect the classification signs
    // inside `limits` down to 1e-13 relative and try again around the result
    let tight = |est: f64, a: f64, b: f64| -> Result<Option<(f64, f64, Excess, Excess)>> {
        let mut delta = 1e-13;
        while delta <= 1e-4 {
            let l = (est * (1.0 - delta)).max(a);
            let h = (est * (1.0 + delta)).min(b);
            let (el, eh) = (eval(l)?, eval(h)?);
            let (sl, sh) = (sign(el), sign(eh));
            if sl != 0 && sh != 0 && sl != sh {
                return Ok(Some((l, h, el, eh)));
            }
            if l <= a && h >= b {
                break;
            }
            delta *= 8.0;
        }
        Ok(None)
    };
    let found = match tight(estimate, a, b)? {
        Some(x) => Some(x),
        None => {
            let (fa, fb) = (eval(a)?, eval(b)?);
            let (mut x0, mut x1) = (a, b);
            let positive_at_a = fa.0 > 0.0;
            if positive_at_a == (fb.0 > 0.0) {
                None
            } else {
                for _ in 0..200 {
                    let mid = 0.5 * (x0 + x1);
                    if mid <= x0 || mid >= x1 || x1 - x0 <= 1e-13 * x1 {
                        break;
                    }
                    if (eval(mid)?.0 > 0.0) == positive_at_a {
                        x0 = mid;
                    } else {
                        x1 = mid;
                    }
                }
                tight(0.5 * (x0 + x1), a, b)?
            }
        }
    };
    let (mut lo, mut hi, mut flo, mut fhi) = match found {
        Some(x) => x,
        None => {
            let (ea, eb) = (eval(a)?, eval(b)?);
            return Ok(Refined {
                lr: estimate,
                error: (estimate - a).max(b - estimate),
                bracket: [a, b],
                verified: false,
                stable_below: ea.0 <= eb.0,
            });
        }
    };
    let stable_below = flo.0 < 0.0;
    let s_lo = sign(flo);
    // (2) Illinois
    let mut side = 0i8;
    let mut uncertain: Option<f64> = None;
    while evals.get() < max_evals {
        let width = hi - lo;
        if width <= 4.0 * f64::EPSILON * hi.abs() {
            break;
        }
        let mut x = hi - fhi.0 * width / (fhi.0 - flo.0);
        let margin = 1e-3 * width;
        if !(x > lo + margin && x < hi - margin) {
            x = 0.5 * (lo + hi);
        }
        let fx = eval(x)?;
        let sx = sign(fx);
        if sx == 0 {
            uncertain = Some(x);
            break;
        }
        if sx == s_lo {
            lo = x;
            flo = fx;
            if side == -1 {
                fhi.0 *= 0.5;
            }
            side = -1;
        } else {
            hi = x;
            fhi = fx;
            if side == 1 {
                flo.0 *= 0.5;
            }
            side = 1;
        }
    }
    // (3) push the certified ends against the uncertain band
    if let Some(x0) = uncertain {
        let mut x = x0;
        while evals.get() < max_evals {
            let mid = 0.5 * (lo + x);
            if mid <= lo || mid >= x || x - lo <= 2.0 * f64::EPSILON * x {
                break;
            }
            let fm = eval(mid)?;
            match sign(fm) {
                0 => x = mid,
                s if s == s_lo => lo = mid,
                _ => {
                    hi = mid;
                    break;
                }
            }
        }
        let mut x = x0.max(lo);
        while x < hi && evals.get() < max_evals {
            let mid = 0.5 * (x + hi);
            if mid <= x || mid >= hi || hi - x <= 2.0 * f64::EPSILON * hi {
                break;
            }
            let fm = eval(mid)?;
            match sign(fm) {
                0 => x = mid,
                s if s == s_lo => {
                    lo = mid;
                    x = mid;
                }
                _ => hi = mid,
            }
        }
    }
    let lr = match uncertain {
        Some(x) if x > lo && x < hi => x,
        _ => {
            let x = hi - fhi.0 * (hi - lo) / (fhi.0 - flo.0);
            if x > lo && x < hi {
                x
            } else {
                0.5 * (lo + hi)
            }
        }
    };
    Ok(Refined {
        lr,
        error: (lr - lo).max(hi - lr),
        bracket: [lo, hi],
        verified: true,
        stable_below,
    })
}

/// The bisection fallback's bracketing: from `start` (certified stable), evaluates `f` on the
/// geometric grid `start·ratio^i`, `i = 1..=max_steps`, and returns the last grid point with
/// `f <= 0` and the first with `f > 0` (`None` if none within the grid). An unstable gap
/// narrower than one grid step can be missed; that is why this is only the fallback.
pub fn scan_first_crossing<F>(
    f: F,
    start: f64,
    ratio: f64,
    max_steps: usize,
) -> Result<Option<(f64, f64)>>
where
    F: Fn(f64) -> Result<Excess>,
{
    let mut prev = start;
    for i in 1..=max_steps {
        let x = start * ratio.powi(i as i32);
        if !x.is_finite() {
            break;
        }
        if f(x)?.0 > 0.0 {
            return Ok(Some((prev, x)));
        }
        prev = x;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refine_finds_a_simple_root_with_a_verified_bracket() {
        // f(η) = η² − 2 with error bound 1e-14: root sqrt 2, band width about 1e-14/(2√2)
        let f = |x: f64| Ok((x * x - 2.0, 1e-14));
        let r = refine(f, 1.4, (1.0, 2.0), 200).unwrap();
        assert!(r.verified && r.stable_below);
        let root = 2f64.sqrt();
        assert!(r.bracket[0] <= root && root <= r.bracket[1], "{r:?}");
        assert!((r.lr - root).abs() <= r.error);
        assert!(r.error < 1e-13, "{r:?}");
    }

    #[test]
    fn refine_handles_a_decreasing_excess() {
        let f = |x: f64| Ok((3.0 - x, 1e-15));
        let r = refine(f, 2.0, (1.0, 10.0), 200).unwrap();
        assert!(r.verified && !r.stable_below);
        assert!((r.lr - 3.0).abs() <= r.error && r.error < 1e-14, "{r:?}");
    }

    #[test]
    fn scan_brackets_the_first_crossing() {
        let f = |x: f64| Ok((x - 5.0, 0.0));
        let (a, b) = scan_first_crossing(f, 1.0, 2f64.sqrt(), 100)
            .unwrap()
            .unwrap();
        assert!(a <= 5.0 && 5.0 < b && b / a < 1.5);
    }
}
