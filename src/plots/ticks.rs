//! Tick marks that label the plotted range: on a log axis the values `m · 10^e` with the
//! mantissas `m` of the sparsest of `{1}`, `{1, 2, 5}`, `{1, 2, 3, 5}`, `{1, …, 9}` that puts at
//! least [`MIN_TICKS`] and about two ticks per decade inside the range, within the maximum (not only the powers of ten when the data lie
//! between two of them); on a short range (less than a factor 1.25) and on a linear axis, a
//! `1-2-5` step. Labels are distinct: each is printed with the decimals its step needs.

/// Fewest ticks wanted inside the range.
pub const MIN_TICKS: usize = 3;

/// Tick values in increasing order with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks(pub Vec<(f64, String)>);

impl Ticks {
    /// The values.
    pub fn values(&self) -> Vec<f64> {
        self.0.iter().map(|t| t.0).collect()
    }

    /// The label of the tick nearest to `v` (the value plotters hands the label formatter).
    pub fn label(&self, v: f64) -> String {
        self.0
            .iter()
            .min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs()))
            .map_or_else(|| format!("{v}"), |t| t.1.clone())
    }
}

/// Decimals needed to print a multiple of `step` exactly (`0` for `step >= 1`).
fn decimals(step: f64) -> usize {
    let e = (step.log10() + 1e-9).floor();
    if e >= 0.0 {
        0
    } else {
        (-e) as usize
    }
}

/// The label of `m · 10^e`: plain decimals for `10^-4 <= 10^e <= 10^5`, else `me±E`.
fn decade_label(m: u32, e: i32) -> String {
    if (-4..=5).contains(&e) {
        format!("{:.*}", decimals(scaled(1, e)), scaled(m, e))
    } else {
        format!("{m}e{e}")
    }
}

/// `m · 10^e` computed so that small values are as exact as a decimal literal.
fn scaled(m: u32, e: i32) -> f64 {
    if e >= 0 {
        m as f64 * 10f64.powi(e)
    } else {
        m as f64 / 10f64.powi(-e)
    }
}

/// Ticks for a logarithmic axis over `[lo, hi]` (`0 < lo < hi`), at most `max_ticks` of them
/// (powers of ten are thinned to every second, third, … decade when even they are too many).
/// Falls back to [`linear_ticks`] when fewer than [`MIN_TICKS`] decade-mantissa values fall
/// inside the range. Returns no ticks for an empty or non-positive range.
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Ticks {
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo) || max_ticks == 0 {
        return Ticks(Vec::new());
    }
    const SETS: [&[u32]; 4] = [
        &[1],
        &[1, 2, 5],
        &[1, 2, 3, 5],
        &[1, 2, 3, 4, 5, 6, 7, 8, 9],
    ];
    let (e0, e1) = (lo.log10().floor() as i32 - 1, hi.log10().ceil() as i32 + 1);
    let within = |set: &[u32], every: i32| -> Vec<(f64, String)> {
        let mut out = Vec::new();
        for e in e0..=e1 {
            if set.len() == 1 && e.rem_euclid(every) != 0 {
                continue;
            }
            for &m in set {
                let v = scaled(m, e);
                // a hair of slack so that a tick at an end of the range is kept
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    out.push((v, decade_label(m, e)));
                }
            }
        }
        out
    };
    // about two labels per decade plotted, at least MIN_TICKS
    let want = MIN_TICKS
        .max((2.0 * (hi / lo).log10()).ceil() as usize)
        .min(max_ticks);
    let mut chosen: Option<Vec<(f64, String)>> = None;
    for set in SETS {
        let t = within(set, 1);
        if t.len() > max_ticks {
            // too many even at this density: the sparser choice (or thinned decades)
            if chosen.is_none() {
                let mut every = 2;
                loop {
                    let t = within(&[1], every);
                    if t.len() <= max_ticks {
                        chosen = Some(t);
                        break;
                    }
                    every += 1;
                }
            }
            break;
        }
        let enough = t.len() >= want;
        chosen = Some(t);
        if enough {
            break;
        }
    }
    match chosen {
        Some(t) if t.len() >= MIN_TICKS.min(max_ticks) => Ticks(t),
        _ => linear_ticks(lo, hi, max_ticks),
    }
}

/// Ticks for a linear axis over `[lo, hi]`: multiples of a `1-2-5` step, at least
/// [`MIN_TICKS`] (when `max_ticks` allows) and at most `max_ticks` inside the range.
pub fn linear_ticks(lo: f64, hi: f64, max_ticks: usize) -> Ticks {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) || max_ticks == 0 {
        return Ticks(Vec::new());
    }
    let target = MIN_TICKS.max(max_ticks.min(6));
    let raw = (hi - lo) / (target.saturating_sub(1).max(1)) as f64;
    let e = raw.log10().floor() as i32;
    let mut candidates: Vec<f64> = Vec::new();
    for de in [e - 1, e, e + 1, e + 2] {
        for m in [1u32, 2, 5] {
            candidates.push(scaled(m, de));
        }
    }
    candidates.sort_by(|a, b| a.total_cmp(b));
    let make = |step: f64| -> Vec<(f64, String)> {
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        (first..=last)
            .map(|i| {
                let v = i as f64 * step;
                (v, format!("{:.*}", decimals(step), v))
            })
            .collect()
    };
    // the largest step that gives MIN_TICKS within max_ticks, else the most ticks that fit
    let want = MIN_TICKS.min(max_ticks);
    let fitting: Vec<Vec<(f64, String)>> = candidates
        .iter()
        .rev()
        .map(|&step| make(step))
        .filter(|t| !t.is_empty() && t.len() <= max_ticks)
        .collect();
    let best = fitting
        .iter()
        .find(|t| t.len() >= want)
        .or_else(|| fitting.iter().max_by_key(|t| t.len()))
        .cloned();
    Ticks(best.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(t: &Ticks, lo: f64, hi: f64, max: usize) {
        let v = t.values();
        assert!(v.len() >= MIN_TICKS.min(max), "{lo}..{hi}: {t:?}");
        assert!(v.len() <= max, "{lo}..{hi}: {t:?}");
        for w in v.windows(2) {
            assert!(w[0] < w[1], "{t:?}");
        }
        assert!(v
            .iter()
            .all(|x| *x >= lo * (1.0 - 1e-9) && *x <= hi * (1.0 + 1e-9)));
        let mut labels: Vec<&String> = t.0.iter().map(|x| &x.1).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), t.0.len(), "duplicate labels: {t:?}");
        // each label reads back as its value
        for (x, l) in &t.0 {
            let back: f64 = l.parse().unwrap();
            assert!((back - x).abs() <= 1e-9 * x.abs().max(1e-300), "{l} vs {x}");
        }
    }

    #[test]
    fn log_ticks_label_the_range_between_decades() {
        // the old axis showed only 0.1 and 1 here
        let t = log_ticks(0.04, 0.9, 12);
        check(&t, 0.04, 0.9, 12);
        assert_eq!(t.values(), vec![0.05, 0.1, 0.2, 0.5]);
        assert_eq!(t.label(0.05), "0.05");
        // wide range: powers of ten
        let t = log_ticks(1e-4, 10.0, 12);
        check(&t, 1e-4, 10.0, 12);
        assert_eq!(t.values().len(), 6);
        // narrow range within a decade: denser mantissas, then linear
        for (lo, hi) in [
            (0.21, 0.48),
            (0.011, 0.019),
            (1.0, 1.2),
            (3.3, 3.31),
            (90.0, 1100.0),
        ] {
            let t = log_ticks(lo, hi, 10);
            check(&t, lo, hi, 10);
        }
        // very wide range: decades thinned
        let t = log_ticks(1e-30, 1e30, 8);
        check(&t, 1e-30, 1e30, 8);
    }

    #[test]
    fn batch_axis_ticks_are_integers() {
        let t = log_ticks(1.0 / 1.1, 500.0 * 1.1, 12);
        check(&t, 1.0 / 1.1, 550.0, 12);
        assert_eq!(
            t.values(),
            vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        );
        assert!(t.0.iter().all(|(_, l)| !l.contains('.')));
    }

    #[test]
    fn linear_ticks_cover_and_stay_distinct() {
        for (lo, hi) in [
            (0.0, 1.0),
            (1.001, 1.003),
            (-5.0, 17.0),
            (2.2, 3.4),
            (1e5, 1e5 + 3.0),
        ] {
            let t = linear_ticks(lo, hi, 8);
            check_linear(&t, lo, hi);
        }
    }

    fn check_linear(t: &Ticks, lo: f64, hi: f64) {
        let v = t.values();
        assert!(v.len() >= MIN_TICKS && v.len() <= 8, "{lo}..{hi}: {t:?}");
        assert!(v.iter().all(|x| *x >= lo - 1e-12 && *x <= hi + 1e-12));
        let mut labels: Vec<&String> = t.0.iter().map(|x| &x.1).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), v.len(), "{t:?}");
    }

    #[test]
    fn degenerate_ranges_give_no_ticks() {
        assert!(log_ticks(0.0, 1.0, 5).0.is_empty());
        assert!(log_ticks(2.0, 1.0, 5).0.is_empty());
        assert!(linear_ticks(f64::NAN, 1.0, 5).0.is_empty());
    }
}
