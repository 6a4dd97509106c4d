//! A convolutional first layer as the linear map `x ↦ K ∗ x`, and its operator norm
//! `‖C‖_2 = max_{x ≠ 0} ‖K ∗ x‖_2 / ‖x‖_2` (the largest singular value of the convolution as a
//! matrix `C`, `(c_out·h'·w') × d`).
//!
//! The layer is a 2-D cross-correlation of stride 1 (as `torch.nn.Conv2d` and
//! `jax.lax.conv_general_dilated` compute it), without bias:
//!
//! ```text
//! y[o, s, t] = Σ_{c, u, v} K[o, c, u, v] · x[c, s + u − p_h, t + v − p_w]
//! ```
//!
//! with `p = (k − 1)/2` (rounded down) for `circular` and `same` padding and `p = 0` for
//! `valid`; outside the input, `x` is zero (`same`, `valid`) or periodic (`circular`).
//!
//! # How the norm is computed
//!
//! - **circular** (periodic grid `h × w`): `C` is block-circulant, so the 2-D DFT
//!   block-diagonalizes it and its singular values are those of the per-frequency kernel matrices
//!   `K̂(ω)[o, c] = Σ_{u,v} K[o, c, u, v] e^{2πi(ω_1 u/h + ω_2 v/w)}` (`c_out × c_in`,
//!   complex), over all `h·w` frequencies `ω`. `‖C‖_2 = max_ω σ_max(K̂(ω))`, exact up to
//!   rounding (each `σ_max` by an SVD of the real `2c_out × 2c_in` form `[[Re, −Im], [Im, Re]]`).
//! - **zero padding** (`same`, `valid`): a certified bracket. Upper bound: the zero-padded
//!   convolution is the circular one on the grid `(h + k_h − 1) × (w + k_w − 1)` applied to `x`
//!   padded with zeros, restricted to the output positions (no wrapped index reaches a non-zero
//!   entry), and embedding and restriction have norm 1, so `‖C‖_2 <= ` that circular norm.
//!   Lower bound: the power iteration on `CᵀC` (applied as convolutions, at most
//!   [`POWER_ITERATIONS`] steps from a seeded start); every iterate `v` gives
//!   `‖Cv‖_2 / ‖v‖_2 <= ‖C‖_2`.
//!
//! [`Conv2d::dense_matrix`] builds `C` itself (tests compare the norm with its SVD).

use crate::io::bundle::{conv_geometry, ConvGeometry, InputLayout, KernelLayout, Padding};
use crate::networks::matrix_norm::spectral_norm;
use crate::random::SplitMix64;
use serde::Serialize;

/// Largest number of power-iteration steps of the lower bound (zero padding); it stops earlier
/// when `‖Cv‖` changes by less than `1e-15` relative.
pub const POWER_ITERATIONS: usize = 2000;

/// A stride-1 2-D convolution as a linear map of the flattened input.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    g: ConvGeometry,
    input_layout: InputLayout,
    padding: Padding,
    /// `[c_out][c_in][k_h][k_w]`.
    kernel: Vec<f64>,
}

/// How `‖C‖_2` was bracketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConvNormMethod {
    /// Exact: the largest per-frequency singular value on the periodic grid.
    PeriodicDft,
    /// A lower bound by the power iteration on `CᵀC`.
    PowerIteration,
    /// An upper bound by the circular convolution on the enlarged grid.
    PeriodicEmbedding,
}

/// `lower <= ‖C‖_2 <= upper`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConvNorm {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// How the lower bound was obtained.
    pub lower_method: ConvNormMethod,
    /// How the upper bound was obtained.
    pub upper_method: ConvNormMethod,
}

impl Conv2d {
    /// The layer of a kernel `kernel` (as stored, of shape `kernel_shape` in `kernel_layout`)
    /// on inputs of `input_shape` (3-D, in `input_layout`). The shapes must agree (the bundle
    /// reader checks them): input channels equal, the kernel no larger than the input for
    /// `valid`.
    pub fn new(
        kernel: &[f64],
        kernel_shape: &[usize],
        input_shape: &[usize],
        kernel_layout: KernelLayout,
        input_layout: InputLayout,
        padding: Padding,
    ) -> Self {
        let g = conv_geometry(kernel_shape, input_shape, kernel_layout, input_layout);
        let (co, ci, kh, kw) = (g.c_out, g.kernel_c_in, g.kh, g.kw);
        let mut k = vec![0.0; co * ci * kh * kw];
        for o in 0..co {
            for c in 0..ci {
                for u in 0..kh {
                    for v in 0..kw {
                        let src = match kernel_layout {
                            KernelLayout::Oihw => ((o * ci + c) * kh + u) * kw + v,
                            KernelLayout::Hwio => ((u * kw + v) * ci + c) * co + o,
                        };
                        k[((o * ci + c) * kh + u) * kw + v] = kernel[src];
                    }
                }
            }
        }
        Conv2d {
            g,
            input_layout,
            padding,
            kernel: k,
        }
    }

    /// `d = c_in·h·w`.
    pub fn input_len(&self) -> usize {
        self.g.c_in * self.g.h * self.g.w
    }

    /// Output height and width.
    pub fn output_hw(&self) -> (usize, usize) {
        match self.padding {
            Padding::Circular | Padding::Same => (self.g.h, self.g.w),
            Padding::Valid => (self.g.h + 1 - self.g.kh, self.g.w + 1 - self.g.kw),
        }
    }

    /// `c_out·h'·w'`.
    pub fn output_len(&self) -> usize {
        let (a, b) = self.output_hw();
        self.g.c_out * a * b
    }

    fn offsets(&self) -> (usize, usize) {
        match self.padding {
            Padding::Circular | Padding::Same => ((self.g.kh - 1) / 2, (self.g.kw - 1) / 2),
            Padding::Valid => (0, 0),
        }
    }

    /// The flat index of input `(c, i, j)` in the input layout.
    fn input_index(&self, c: usize, i: usize, j: usize) -> usize {
        let g = &self.g;
        match self.input_layout {
            InputLayout::Chw => (c * g.h + i) * g.w + j,
            InputLayout::Hwc => (i * g.w + j) * g.c_in + c,
        }
    }

    /// The input position read by output `(s, t)` and kernel tap `(u, v)`, if inside the input
    /// (or wrapped, for circular padding).
    fn source(&self, s: usize, t: usize, u: usize, v: usize) -> Option<(usize, usize)> {
        let (ph, pw) = self.offsets();
        let (h, w) = (self.g.h as isize, self.g.w as isize);
        let i = s as isize + u as isize - ph as isize;
        let j = t as isize + v as isize - pw as isize;
        match self.padding {
            Padding::Circular => Some((i.rem_euclid(h) as usize, j.rem_euclid(w) as usize)),
            _ => (i >= 0 && i < h && j >= 0 && j < w).then_some((i as usize, j as usize)),
        }
    }

    /// `C x`: `x` flattened in the input layout, the result as `[c_out][h'][w']`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let g = &self.g;
        let (oh, ow) = self.output_hw();
        let mut y = vec![0.0; self.output_len()];
        for o in 0..g.c_out {
            for s in 0..oh {
                for t in 0..ow {
                    let mut acc = 0.0;
                    for c in 0..g.c_in {
                        for u in 0..g.kh {
                            for v in 0..g.kw {
                                if let Some((i, j)) = self.source(s, t, u, v) {
                                    acc += self.kernel[((o * g.c_in + c) * g.kh + u) * g.kw + v]
                                        * x[self.input_index(c, i, j)];
                                }
                            }
                        }
                    }
                    y[(o * oh + s) * ow + t] = acc;
                }
            }
        }
        y
    }

    /// `Cᵀ y`.
    pub fn apply_adjoint(&self, y: &[f64]) -> Vec<f64> {
        let g = &self.g;
        let (oh, ow) = self.output_hw();
        let mut x = vec![0.0; self.input_len()];
        for o in 0..g.c_out {
            for s in 0..oh {
                for t in 0..ow {
                    let val = y[(o * oh + s) * ow + t];
                    if val == 0.0 {
                        continue;
                    }
                    for c in 0..g.c_in {
                        for u in 0..g.kh {
                            for v in 0..g.kw {
                                if let Some((i, j)) = self.source(s, t, u, v) {
                                    x[self.input_index(c, i, j)] +=
                                        self.kernel[((o * g.c_in + c) * g.kh + u) * g.kw + v] * val;
                                }
                            }
                        }
                    }
                }
            }
        }
        x
    }

    /// The matrix `C` (`output_len × input_len`, row-major), column by column from `C e_j`.
    pub fn dense_matrix(&self) -> Vec<f64> {
        let (rows, cols) = (self.output_len(), self.input_len());
        let mut a = vec![0.0; rows * cols];
        let mut e = vec![0.0; cols];
        for j in 0..cols {
            e[j] = 1.0;
            for (r, v) in self.apply(&e).into_iter().enumerate() {
                a[r * cols + j] = v;
            }
            e[j] = 0.0;
        }
        a
    }

    /// `max_ω σ_max(K̂(ω))` over the frequencies of an `nh × nw` periodic grid: `‖C‖_2` of the
    /// circular convolution on that grid (`nh >= k_h`, `nw >= k_w`).
    pub fn periodic_norm(&self, nh: usize, nw: usize) -> f64 {
        let g = &self.g;
        let (co, ci) = (g.c_out, g.c_in);
        let mut best = 0.0f64;
        let mut m = vec![0.0; 4 * co * ci];
        for a in 0..nh {
            for b in 0..nw {
                m.iter_mut().for_each(|v| *v = 0.0);
                for o in 0..co {
                    for c in 0..ci {
                        let (mut re, mut im) = (0.0, 0.0);
                        for u in 0..g.kh {
                            for v in 0..g.kw {
                                let phase = 2.0
                                    * std::f64::consts::PI
                                    * ((a * u) as f64 / nh as f64 + (b * v) as f64 / nw as f64);
                                let k = self.kernel[((o * ci + c) * g.kh + u) * g.kw + v];
                                re += k * phase.cos();
                                im += k * phase.sin();
                            }
                        }
                        // [[Re, −Im], [Im, Re]], 2co × 2ci
                        let cols = 2 * ci;
                        m[o * cols + c] = re;
                        m[o * cols + ci + c] = -im;
                        m[(co + o) * cols + c] = im;
                        m[(co + o) * cols + ci + c] = re;
                    }
                }
                best = best.max(spectral_norm(&m, 2 * co, 2 * ci));
            }
        }
        best
    }

    /// The largest `‖Cv‖_2/‖v‖_2` over [`POWER_ITERATIONS`] steps of the power iteration on
    /// `CᵀC` from a seeded Gaussian start: a lower bound on `‖C‖_2`.
    pub fn power_lower_bound(&self, seed: u64) -> f64 {
        let mut rng = SplitMix64::new(seed);
        let mut v: Vec<f64> = (0..self.input_len()).map(|_| rng.normal()).collect();
        let mut best = 0.0f64;
        for _ in 0..POWER_ITERATIONS {
            let nv = norm2(&v);
            if nv == 0.0 || !nv.is_finite() {
                break;
            }
            v.iter_mut().for_each(|a| *a /= nv);
            let cv = self.apply(&v);
            let value = norm2(&cv);
            let settled = value <= best * (1.0 + 1e-15);
            best = best.max(value);
            if settled {
                break;
            }
            v = self.apply_adjoint(&cv);
        }
        best
    }

    /// `‖C‖_2`: exact for circular padding, a certified bracket for zero padding (module docs).
    pub fn operator_norm(&self) -> ConvNorm {
        match self.padding {
            Padding::Circular => {
                let v = self.periodic_norm(self.g.h, self.g.w);
                ConvNorm {
                    lower: v,
                    upper: v,
                    lower_method: ConvNormMethod::PeriodicDft,
                    upper_method: ConvNormMethod::PeriodicDft,
                }
            }
            Padding::Same | Padding::Valid => {
                let upper = self.periodic_norm(self.g.h + self.g.kh - 1, self.g.w + self.g.kw - 1);
                let lower = self.power_lower_bound(0x636f_6e76).min(upper);
                ConvNorm {
                    lower,
                    upper,
                    lower_method: ConvNormMethod::PowerIteration,
                    upper_method: ConvNormMethod::PeriodicEmbedding,
                }
            }
        }
    }
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        (0..len).map(|_| rng.normal()).collect()
    }

    /// The norm against the SVD of the dense matrix, every padding and both layouts.
    #[test]
    fn operator_norm_matches_the_dense_matrix() {
        for (pad, kh, kw) in [
            (Padding::Circular, 3, 3),
            (Padding::Same, 3, 2),
            (Padding::Valid, 2, 3),
        ] {
            for (kl, il) in [
                (KernelLayout::Oihw, InputLayout::Chw),
                (KernelLayout::Hwio, InputLayout::Hwc),
            ] {
                let (co, ci, h, w) = (3, 2, 5, 4);
                let kshape = match kl {
                    KernelLayout::Oihw => vec![co, ci, kh, kw],
                    KernelLayout::Hwio => vec![kh, kw, ci, co],
                };
                let ishape = match il {
                    InputLayout::Chw => vec![ci, h, w],
                    InputLayout::Hwc => vec![h, w, ci],
                };
                let k = kernel(co * ci * kh * kw, 7);
                let conv = Conv2d::new(&k, &kshape, &ishape, kl, il, pad);
                let a = conv.dense_matrix();
                let exact = spectral_norm(&a, conv.output_len(), conv.input_len());
                let b = conv.operator_norm();
                let tol = 1e-12 * exact.max(1.0);
                assert!(
                    b.lower <= exact + tol && exact <= b.upper + tol,
                    "{pad:?}: {b:?} vs {exact}"
                );
                if pad == Padding::Circular {
                    assert!((b.upper - exact).abs() <= 1e-11 * exact, "{b:?} vs {exact}");
                } else {
                    // the power iteration comes close on these small operators
                    assert!((b.lower - exact).abs() <= 1e-7 * exact, "{b:?} vs {exact}");
                }
                // the adjoint is the transpose
                let y = kernel(conv.output_len(), 3);
                let aty = conv.apply_adjoint(&y);
                for j in 0..conv.input_len() {
                    let want: f64 = (0..conv.output_len())
                        .map(|r| a[r * conv.input_len() + j] * y[r])
                        .sum();
                    assert!((aty[j] - want).abs() < 1e-12 * (1.0 + want.abs()));
                }
            }
        }
    }

    /// A 1 × 1 kernel is a multiple of the identity per pixel: `‖C‖_2 = ‖K‖_2` of the channel
    /// matrix, exactly.
    #[test]
    fn one_by_one_kernel_is_the_channel_matrix() {
        let k = vec![1.0, 2.0, 0.0, -1.0, 3.0, 1.0]; // 3 × 2
        let conv = Conv2d::new(
            &k,
            &[3, 2, 1, 1],
            &[2, 4, 4],
            KernelLayout::Oihw,
            InputLayout::Chw,
            Padding::Same,
        );
        let want = spectral_norm(&k, 3, 2);
        let b = conv.operator_norm();
        assert!((b.upper - want).abs() < 1e-12 * want && (b.lower - want).abs() < 1e-9 * want);
    }
}
