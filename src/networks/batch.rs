//! Batched passes of a network over `B` inputs at once, as matrix–matrix products (faer GEMM,
//! single-threaded): the SGD step of eq. (7), the training loss, and the per-sample gradient
//! norms behind `g_W` and `g_x` of eq. (5) — without forming the `B × w` per-sample gradients.
//!
//! # Shapes (all row-major)
//!
//! `X` is `B × d` (row `i` = input `x_i`), `Z_l`, `H_l`, `Δ_l` are `B × m_l`, `W_l` is
//! `m_l × m_{l−1}` as stored in the parameter vector ([`crate::networks::network`]):
//!
//! ```text
//! forward:   Z_l = H_{l−1} W_lᵀ + 1 b_lᵀ,   H_l = σ(Z_l),   f = H_L v + c 1      (H_0 = X)
//! backward:  given weights r ∈ R^B (the step uses r_i = f(x_i) − y_i),
//!            Δ_L = (r vᵀ) ⊙ σ'(Z_L),   Δ_{l−1} = (Δ_l W_l) ⊙ σ'(Z_{l−1}),
//!            Σ_i r_i ∇_{W_l} f(x_i) = Δ_lᵀ H_{l−1},   Σ_i r_i ∇_{b_l} f = Δ_lᵀ 1,
//!            Σ_i r_i ∇_v f = H_Lᵀ r,                  Σ_i r_i ∇_c f = Σ_i r_i.
//! ```
//!
//! Cost: `2wB` flops forward and about `4wB` backward (`Δ_1 W_1` is not needed for the step),
//! so about `6wB` per SGD step. Row `i` of `Δ_l / r_i` is the per-sample `δ_l` of
//! [`crate::networks::network`], so per-sample gradient norms follow from the rank-one
//! structure `∇_{W_l} f(x_i) = δ_{l,i} h_{l−1,i}ᵀ`:
//!
//! ```text
//! ‖∇_W f(x_i)‖² = Σ_l ‖δ_{l,i}‖² (‖h_{l−1,i}‖² + 1) + ‖h_{L,i}‖² + 1,   ∇_x f(x_i) = W_1ᵀ δ_{1,i}.
//! ```

use crate::networks::network::Mlp;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Scratch buffers for batched passes of up to `capacity` inputs (reused across steps).
#[derive(Debug, Clone)]
pub struct BatchWorkspace {
    capacity: usize,
    /// Gathered inputs, `capacity × d`.
    x: Vec<f64>,
    /// `Z_l`, `capacity × m_l` each.
    z: Vec<Vec<f64>>,
    /// `H_l`, `capacity × m_l` each.
    h: Vec<Vec<f64>>,
    /// `Δ_l`, `capacity × m_l` each.
    delta: Vec<Vec<f64>>,
    /// Outputs `f(x_i)`, then the weights `r_i`.
    out: Vec<f64>,
}

impl BatchWorkspace {
    /// Buffers for batches of up to `capacity >= 1` inputs of `net`.
    pub fn new(net: &Mlp, capacity: usize) -> Self {
        let arch = net.architecture();
        let capacity = capacity.max(1);
        let mk = || -> Vec<Vec<f64>> {
            arch.hidden
                .iter()
                .map(|&m| vec![0.0; capacity * m])
                .collect()
        };
        BatchWorkspace {
            capacity,
            x: vec![0.0; capacity * arch.input_dim],
            z: mk(),
            h: mk(),
            delta: mk(),
            out: vec![0.0; capacity],
        }
    }

    /// The largest batch.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

fn view(data: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major_slice(&data[..rows * cols], rows, cols)
}

fn view_mut(data: &mut [f64], rows: usize, cols: usize) -> MatMut<'_, f64> {
    MatMut::from_row_major_slice_mut(&mut data[..rows * cols], rows, cols)
}

impl Mlp {
    /// Copies rows `rows` of `x` (`n × d` row-major) into the workspace as the batch `X`.
    ///
    /// # Panics
    /// If `rows.len()` exceeds the workspace capacity (a caller bug).
    pub fn gather_batch(&self, x: &[f64], rows: &[usize], ws: &mut BatchWorkspace) {
        let d = self.architecture().input_dim;
        assert!(rows.len() <= ws.capacity, "batch larger than the workspace");
        for (k, &i) in rows.iter().enumerate() {
            ws.x[k * d..(k + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
        }
    }

    /// Copies `b` consecutive rows of `x` starting at row `first` into the workspace.
    fn gather_range(&self, x: &[f64], first: usize, b: usize, ws: &mut BatchWorkspace) {
        let d = self.architecture().input_dim;
        ws.x[..b * d].copy_from_slice(&x[first * d..(first + b) * d]);
    }

    /// Forward pass over the `b` inputs in the workspace (see [`Mlp::gather_batch`]); returns
    /// `f(x_i, W)`, `i = 0..b`, and keeps `Z_l`, `H_l` for [`Mlp::backward_batch`].
    pub fn forward_batch<'w>(&self, b: usize, ws: &'w mut BatchWorkspace) -> &'w [f64] {
        let arch = self.architecture();
        let layout = arch.layout();
        let act = arch.activation;
        let nl = arch.hidden.len();
        let p = self.params();
        for l in 0..nl {
            let (wo, bo, rows, cols) = layout[l];
            let (done, rest) = ws.h.split_at_mut(l);
            let input = if l == 0 {
                view(&ws.x, b, cols)
            } else {
                view(&done[l - 1], b, cols)
            };
            let wt = MatRef::from_row_major_slice(&p[wo..wo + rows * cols], rows, cols).transpose();
            matmul(
                view_mut(&mut ws.z[l], b, rows),
                Accum::Replace,
                input,
                wt,
                1.0,
                Par::Seq,
            );
            let bias = &p[bo..bo + rows];
            let z = &mut ws.z[l][..b * rows];
            let h = &mut rest[0][..b * rows];
            for (zr, hr) in z.chunks_exact_mut(rows).zip(h.chunks_exact_mut(rows)) {
                for ((zv, hv), bv) in zr.iter_mut().zip(hr.iter_mut()).zip(bias) {
                    *zv += bv;
                    *hv = act.value(*zv);
                }
            }
        }
        let (wo, bo, _, cols) = layout[nl];
        let v = &p[wo..wo + cols];
        let c = p[bo];
        for (o, hr) in ws.out[..b]
            .iter_mut()
            .zip(ws.h[nl - 1][..b * cols].chunks_exact(cols))
        {
            *o = hr.iter().zip(v).map(|(a, w)| a * w).sum::<f64>() + c;
        }
        &ws.out[..b]
    }

    /// After [`Mlp::forward_batch`] on the same `b` inputs: every `Δ_l` for the weights `r`
    /// (length `b`), left in the workspace, and, when `grad` is given (length `w`),
    /// `Σ_i r_i ∇_W f(x_i, W)` written into it (overwriting) in the flattening order.
    fn backward_deltas(
        &self,
        b: usize,
        r: &[f64],
        ws: &mut BatchWorkspace,
        grad: Option<&mut [f64]>,
    ) {
        let arch = self.architecture();
        let layout = arch.layout();
        let act = arch.activation;
        let nl = arch.hidden.len();
        let p = self.params();
        let (wo, bo, _, cols) = layout[nl];
        let v = &p[wo..wo + cols];
        // Δ_L = (r vᵀ) ⊙ σ'(Z_L)
        for ((dr, zr), &ri) in ws.delta[nl - 1][..b * cols]
            .chunks_exact_mut(cols)
            .zip(ws.z[nl - 1][..b * cols].chunks_exact(cols))
            .zip(r)
        {
            for ((dv, zv), vv) in dr.iter_mut().zip(zr).zip(v) {
                *dv = ri * vv * act.derivative(*zv);
            }
        }
        let mut grad = grad;
        if let Some(g) = grad.as_deref_mut() {
            // ∂/∂v: H_Lᵀ r, ∂/∂c: Σ r
            let gv = &mut g[wo..wo + cols];
            gv.iter_mut().for_each(|x| *x = 0.0);
            for (hr, &ri) in ws.h[nl - 1][..b * cols].chunks_exact(cols).zip(r) {
                for (gx, hv) in gv.iter_mut().zip(hr) {
                    *gx += ri * hv;
                }
            }
            g[bo] = r.iter().sum();
        }
        for l in (0..nl).rev() {
            let (wo, bo, rows, cols) = layout[l];
            if let Some(g) = grad.as_deref_mut() {
                let input = if l == 0 {
                    view(&ws.x, b, cols)
                } else {
                    view(&ws.h[l - 1], b, cols)
                };
                let (gw, gb) = g[wo..bo + rows].split_at_mut(rows * cols);
                // Σ_i r_i ∇_{W_l} f = Δ_lᵀ H_{l−1}
                matmul(
                    view_mut(gw, rows, cols),
                    Accum::Replace,
                    view(&ws.delta[l], b, rows).transpose(),
                    input,
                    1.0,
                    Par::Seq,
                );
                gb.iter_mut().for_each(|x| *x = 0.0);
                for dr in ws.delta[l][..b * rows].chunks_exact(rows) {
                    for (gx, dv) in gb.iter_mut().zip(dr) {
                        *gx += dv;
                    }
                }
            }
            if l > 0 {
                // Δ_{l−1} = (Δ_l W_l) ⊙ σ'(Z_{l−1})
                let (lower, upper) = ws.delta.split_at_mut(l);
                let w = MatRef::from_row_major_slice(&p[wo..wo + rows * cols], rows, cols);
                matmul(
                    view_mut(&mut lower[l - 1], b, cols),
                    Accum::Replace,
                    view(&upper[0], b, rows),
                    w,
                    1.0,
                    Par::Seq,
                );
                for (dv, zv) in lower[l - 1][..b * cols]
                    .iter_mut()
                    .zip(&ws.z[l - 1][..b * cols])
                {
                    *dv *= act.derivative(*zv);
                }
            }
        }
    }

    /// After [`Mlp::forward_batch`] on the same `b` inputs: writes
    /// `Σ_{i<b} r_i ∇_W f(x_i, W)` into `grad` (length `w`, flattening order, overwriting).
    pub fn backward_batch(&self, b: usize, r: &[f64], ws: &mut BatchWorkspace, grad: &mut [f64]) {
        debug_assert_eq!(grad.len(), self.parameter_count());
        debug_assert_eq!(r.len(), b);
        self.backward_deltas(b, r, ws, Some(grad));
    }

    /// `L(W) = (1/2n) Σ_i (f(x_i, W) − y_i)²` over `n` inputs `x` (`n × d`) and targets `y`, in
    /// blocks of the workspace's capacity.
    pub fn loss_batched(&self, x: &[f64], y: &[f64], ws: &mut BatchWorkspace) -> f64 {
        let n = y.len();
        let mut s = 0.0;
        let mut first = 0;
        while first < n {
            let b = ws.capacity.min(n - first);
            self.gather_range(x, first, b, ws);
            let f = self.forward_batch(b, ws);
            s += f
                .iter()
                .zip(&y[first..first + b])
                .map(|(fi, yi)| (fi - yi) * (fi - yi))
                .sum::<f64>();
            first += b;
        }
        s / (2.0 * n as f64)
    }

    /// `g_W` and `g_x` of eq. (5), `((1/n) Σ_i ‖∇_W f(x_i)‖²)^½` and
    /// `((1/n) Σ_i ‖∇_x f(x_i)‖²)^½`, over the `n` rows of `x` (`n × d`), from the rank-one
    /// structure of the per-sample gradients (module docs) in blocks of the workspace's
    /// capacity; never forms the `n × w` gradient matrix.
    pub fn g_values_batched(&self, x: &[f64], n: usize, ws: &mut BatchWorkspace) -> (f64, f64) {
        let arch = self.architecture();
        let (d, nl) = (arch.input_dim, arch.hidden.len());
        let m1 = arch.first_width();
        let w1 = MatRef::from_row_major_slice(self.w1(), m1, d);
        let ones = vec![1.0; ws.capacity];
        let mut xg = vec![0.0; ws.capacity * d];
        let (mut sw, mut sx) = (0.0, 0.0);
        let mut first = 0;
        while first < n {
            let b = ws.capacity.min(n - first);
            self.gather_range(x, first, b, ws);
            self.forward_batch(b, ws);
            self.backward_deltas(b, &ones[..b], ws, None);
            for i in 0..b {
                let row = |v: &Vec<f64>, m: usize| -> f64 {
                    v[i * m..(i + 1) * m].iter().map(|a| a * a).sum()
                };
                let mut prev_sq = row(&ws.x, d);
                let mut g = 0.0;
                for l in 0..nl {
                    let m = arch.hidden[l];
                    g += row(&ws.delta[l], m) * (prev_sq + 1.0);
                    prev_sq = row(&ws.h[l], m);
                }
                sw += g + prev_sq + 1.0;
            }
            // ∇_x f(x_i) = W_1ᵀ δ_{1,i}: the rows of Δ_1 W_1
            matmul(
                view_mut(&mut xg, b, d),
                Accum::Replace,
                view(&ws.delta[0], b, m1),
                w1,
                1.0,
                Par::Seq,
            );
            sx += xg[..b * d].iter().map(|a| a * a).sum::<f64>();
            first += b;
        }
        ((sw / n as f64).sqrt(), (sx / n as f64).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networks::network::{Activation, Architecture};
    use crate::random::SplitMix64;

    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt();
        let norm = b.iter().map(|y| y * y).sum::<f64>().sqrt();
        diff / norm
    }

    /// The batched gradient `Σ r_i ∇f(x_i)` against the per-sample backpropagation of
    /// [`Mlp::per_sample`] (itself checked by central differences in `tests/suite/networks.rs`).
    #[test]
    fn batched_gradient_matches_per_sample_backprop() {
        for (act, hidden, d, b) in [
            (Activation::Relu, vec![128, 128], 64, 2),
            (Activation::Relu, vec![128, 128], 64, 20),
            (Activation::Relu, vec![128, 128], 64, 100),
            (Activation::Tanh, vec![7, 5, 3], 4, 9),
            (Activation::Gelu, vec![6], 3, 1),
        ] {
            let arch = Architecture::new(d, hidden, act).unwrap();
            let net = Mlp::init(arch, 3);
            let mut rng = SplitMix64::new(11);
            let x: Vec<f64> = (0..b * d).map(|_| rng.uniform()).collect();
            let r: Vec<f64> = (0..b).map(|_| rng.normal()).collect();
            let ps = net.per_sample(&x, b);
            let w = net.parameter_count();
            let mut expected = vec![0.0; w];
            for i in 0..b {
                for (e, g) in expected.iter_mut().zip(ps.param_grad(i)) {
                    *e += r[i] * g;
                }
            }
            let mut ws = BatchWorkspace::new(&net, b);
            let rows: Vec<usize> = (0..b).collect();
            net.gather_batch(&x, &rows, &mut ws);
            let f = net.forward_batch(b, &mut ws).to_vec();
            assert!(rel(&f, &ps.outputs) < 1e-13, "{f:?} vs {:?}", ps.outputs);
            let mut grad = vec![f64::NAN; w];
            net.backward_batch(b, &r, &mut ws, &mut grad);
            let e = rel(&grad, &expected);
            assert!(e < 1e-12, "B = {b}: relative difference {e}");
            // g_W, g_x from the rank-one norms against the per-sample matrices
            let (gw, gx) = crate::networks::sobolev::g_values(&ps.param_grads, &ps.input_grads, b);
            let mut small = BatchWorkspace::new(&net, 3.min(b));
            let (bw, bx) = net.g_values_batched(&x, b, &mut small);
            assert!((bw - gw).abs() <= 1e-12 * gw, "{bw} vs {gw}");
            assert!((bx - gx).abs() <= 1e-12 * gx, "{bx} vs {gx}");
            // the loss in blocks against the one-at-a-time loss
            let y: Vec<f64> = (0..b).map(|_| rng.normal()).collect();
            let data =
                crate::networks::datasets::Dataset::new("t".into(), b, d, x.clone(), y.clone())
                    .unwrap();
            let l0 = crate::networks::training::loss(&net, &data);
            let l1 = net.loss_batched(&x, &y, &mut small);
            assert!((l0 - l1).abs() <= 1e-13 * l0, "{l0} vs {l1}");
        }
    }
}
