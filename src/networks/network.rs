//! Fully connected networks with scalar output, `f(x, W) = f̃(W_1 x, W_2)` (eq. 6), with exact
//! per-sample parameter gradients `∇_W f(x, W)` and input gradients `∇_x f(x, W)` by hand-written
//! backpropagation.
//!
//! # Architecture
//!
//! Input `x ∈ R^d`, hidden widths `m_1, …, m_L` (`L >= 1`), activation `σ`, scalar output:
//!
//! ```text
//! h_0 = x,   z_l = W_l h_{l−1} + b_l,   h_l = σ(z_l)   (l = 1..L),
//! f(x, W) = v · h_L + c.
//! ```
//!
//! `W_l` is `m_l × m_{l−1}` (`m_0 = d`). The first-layer matrix `W_1` (`m × d`, `m = m_1`) is the
//! paper's `W_1` of eq. (6); everything else (`b_1`, later layers, `v`, `c`) is `W_2`.
//!
//! # Flattening order of the parameters (and of every gradient row)
//!
//! ```text
//! [ W_1 (row-major, m_1 × d), b_1 (m_1),
//!   W_2 (row-major, m_2 × m_1), b_2 (m_2), …,
//!   W_L (row-major), b_L,
//!   v (m_L), c (1) ]
//! ```
//!
//! so `w = Σ_l m_l (m_{l−1} + 1) + m_L + 1`, and `W_1[a, b]` is parameter `a·d + b`. This is
//! [`FLATTENING_ORDER`], recorded in every export's `meta.json`.
//!
//! # Gradients (backpropagation)
//!
//! With `δ_l = ∂f/∂z_l`: `δ_L = v ⊙ σ'(z_L)`, `δ_{l−1} = (W_lᵀ δ_l) ⊙ σ'(z_{l−1})`, and
//! `∂f/∂W_l = δ_l h_{l−1}ᵀ`, `∂f/∂b_l = δ_l`, `∂f/∂v = h_L`, `∂f/∂c = 1`. The first-layer
//! derivative `∂f/∂(W_1 x) = δ_1` gives eq. (1): `∇_{W_1} f = δ_1 xᵀ` and
//! `∇_x f = W_1ᵀ δ_1`.

pub use super::activation::Activation;

use crate::error::{Error, Param, Result};
use crate::random::SplitMix64;
use serde::{Deserialize, Serialize};

/// The flattening order of parameters and gradient rows, as written to `meta.json`.
pub const FLATTENING_ORDER: &str =
    "W_1 (row-major, m_1 x d), b_1, W_2 (row-major, m_2 x m_1), b_2, ..., W_L (row-major), b_L, v (output weights, m_L), c (output bias)";

/// Largest number of parameters accepted (keeps every per-sample gradient matrix small).
pub const MAX_PARAMETERS: usize = 50_000_000;

/// The shape of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// Input dimension `d`.
    pub input_dim: usize,
    /// Hidden widths `m_1, …, m_L` (at least one layer).
    pub hidden: Vec<usize>,
    /// The activation of every hidden layer.
    pub activation: Activation,
}

impl Architecture {
    /// Checks `d >= 1`, at least one hidden layer, every width `>= 1`, and a parameter count
    /// below [`MAX_PARAMETERS`].
    pub fn new(input_dim: usize, hidden: Vec<usize>, activation: Activation) -> Result<Self> {
        if input_dim == 0 {
            return Err(Error::parameter(
                Param::Dim,
                input_dim,
                "the input dimension must be >= 1",
            ));
        }
        if hidden.is_empty() || hidden.contains(&0) {
            return Err(Error::parameter(
                Param::Hidden,
                format!("{hidden:?}"),
                "give at least one hidden layer, every width >= 1 (e.g. 32 or 32,32)",
            ));
        }
        let arch = Architecture {
            input_dim,
            hidden,
            activation,
        };
        match arch.checked_parameter_count() {
            Some(w) if w <= MAX_PARAMETERS => Ok(arch),
            _ => Err(Error::parameter(
                Param::Hidden,
                format!("{:?}", arch.hidden),
                format!("more than {MAX_PARAMETERS} parameters"),
            )),
        }
    }

    fn checked_parameter_count(&self) -> Option<usize> {
        let mut prev = self.input_dim;
        let mut w = 0usize;
        for &m in &self.hidden {
            w = w.checked_add(m.checked_mul(prev.checked_add(1)?)?)?;
            prev = m;
        }
        w.checked_add(prev)?.checked_add(1)
    }

    /// The number of parameters `w`.
    pub fn parameter_count(&self) -> usize {
        // invariant: checked in `new` (and by deserialisation through `Mlp::new`)
        self.checked_parameter_count().unwrap_or(usize::MAX)
    }

    /// `m = m_1`, the number of rows of `W_1`.
    pub fn first_width(&self) -> usize {
        self.hidden[0]
    }

    /// `"d-m_1-…-m_L-1 activation"`, e.g. `"2-32-32-1 tanh"`.
    pub fn describe(&self) -> String {
        let mut s = self.input_dim.to_string();
        for m in &self.hidden {
            s.push_str(&format!("-{m}"));
        }
        format!("{s}-1 {}", self.activation)
    }

    /// Offsets of each layer's weight matrix and bias in the flat parameter vector:
    /// `(weight_offset, bias_offset, rows, cols)` for `l = 1..L`, then the output layer.
    pub(crate) fn layout(&self) -> Vec<(usize, usize, usize, usize)> {
        let mut out = Vec::with_capacity(self.hidden.len() + 1);
        let mut prev = self.input_dim;
        let mut off = 0;
        for &m in self.hidden.iter().chain(std::iter::once(&1)) {
            out.push((off, off + m * prev, m, prev));
            off += m * (prev + 1);
            prev = m;
        }
        out
    }
}

/// A network: its architecture and flat parameter vector (see the module docs for the order).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    arch: Architecture,
    params: Vec<f64>,
}

/// Scratch buffers for one forward/backward pass (reused across samples).
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Pre-activations `z_l`, per layer.
    z: Vec<Vec<f64>>,
    /// Post-activations `h_l` (`h_0 = x` is not stored).
    h: Vec<Vec<f64>>,
    /// Back-propagated `δ_l`.
    delta: Vec<Vec<f64>>,
}

impl Workspace {
    /// Buffers for `arch`.
    pub fn new(arch: &Architecture) -> Self {
        let z: Vec<Vec<f64>> = arch.hidden.iter().map(|&m| vec![0.0; m]).collect();
        Workspace {
            h: z.clone(),
            delta: z.clone(),
            z,
        }
    }

    /// `∂f/∂(W_1 x) = δ_1` of the last [`Mlp::backward`] (length `m_1`).
    pub fn first_layer_delta(&self) -> &[f64] {
        &self.delta[0]
    }
}

impl Mlp {
    /// A network with the given parameters (`params.len()` must equal the parameter count; all
    /// finite).
    pub fn new(arch: Architecture, params: Vec<f64>) -> Result<Self> {
        let arch = Architecture::new(arch.input_dim, arch.hidden, arch.activation)?;
        let w = arch.parameter_count();
        if params.len() != w {
            return Err(Error::InvalidInput {
                context: "parameters".into(),
                message: format!(
                    "{} values for the {} network, which has {w} parameters",
                    params.len(),
                    arch.describe()
                ),
            });
        }
        if let Some(p) = params.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput {
                context: "parameters".into(),
                message: format!("non-finite value {} at index {p}", params[p]),
            });
        }
        Ok(Mlp { arch, params })
    }

    /// Seeded initialisation: every weight `N(0, gain / fan_in)` (`gain` 2 for ReLU, else 1),
    /// output weights `N(0, 1 / m_L)`, biases 0. Deterministic for a given seed.
    pub fn init(arch: Architecture, seed: u64) -> Self {
        let mut rng = SplitMix64::derive(seed, 0x4E45_5457);
        let mut params = vec![0.0; arch.parameter_count()];
        let layout = arch.layout();
        let last = layout.len() - 1;
        for (l, &(wo, _bo, rows, cols)) in layout.iter().enumerate() {
            let gain = if l == last {
                1.0
            } else {
                arch.activation.init_gain()
            };
            let sd = (gain / cols as f64).sqrt();
            for p in &mut params[wo..wo + rows * cols] {
                *p = sd * rng.normal();
            }
        }
        Mlp { arch, params }
    }

    /// The architecture.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// The flat parameters.
    pub fn params(&self) -> &[f64] {
        &self.params
    }

    /// Mutable flat parameters (for optimisers).
    pub fn params_mut(&mut self) -> &mut [f64] {
        &mut self.params
    }

    /// `w`.
    pub fn parameter_count(&self) -> usize {
        self.params.len()
    }

    /// `W_1` as a row-major `m × d` slice (the first `m·d` parameters).
    pub fn w1(&self) -> &[f64] {
        &self.params[..self.arch.first_width() * self.arch.input_dim]
    }

    /// Forward pass: `f(x, W)`; fills `ws` for a following [`Mlp::backward`].
    pub fn forward(&self, x: &[f64], ws: &mut Workspace) -> f64 {
        debug_assert_eq!(x.len(), self.arch.input_dim);
        let layout = self.arch.layout();
        let act = self.arch.activation;
        for (l, &(wo, bo, rows, cols)) in layout.iter().enumerate().take(self.arch.hidden.len()) {
            let (done, rest) = ws.h.split_at_mut(l);
            let input: &[f64] = if l == 0 { x } else { &done[l - 1] };
            let z = &mut ws.z[l];
            let h = &mut rest[0];
            for a in 0..rows {
                let row = &self.params[wo + a * cols..wo + (a + 1) * cols];
                let s: f64 = row.iter().zip(input).map(|(w, v)| w * v).sum();
                z[a] = s + self.params[bo + a];
                h[a] = act.value(z[a]);
            }
        }
        let &(wo, bo, _, cols) = layout.last().expect("invariant: at least the output layer");
        let hl = &ws.h[self.arch.hidden.len() - 1];
        let s: f64 = self.params[wo..wo + cols]
            .iter()
            .zip(hl)
            .map(|(w, v)| w * v)
            .sum();
        s + self.params[bo]
    }

    /// Backward pass after [`Mlp::forward`] on the same `x`: writes `∇_W f(x, W)` into `grad`
    /// (length `w`, in the flattening order) scaled by `scale`, **added** to what `grad` holds
    /// when `accumulate`, else overwriting it. Leaves `δ_1 = ∂f/∂(W_1 x)` in `ws`.
    pub fn backward(
        &self,
        x: &[f64],
        ws: &mut Workspace,
        grad: &mut [f64],
        scale: f64,
        accumulate: bool,
    ) {
        debug_assert_eq!(grad.len(), self.params.len());
        if !accumulate {
            grad.iter_mut().for_each(|g| *g = 0.0);
        }
        let layout = self.arch.layout();
        let act = self.arch.activation;
        let nl = self.arch.hidden.len();
        // output layer: ∂f/∂v = h_L, ∂f/∂c = 1, δ_L = v ⊙ σ'(z_L)
        let (wo, bo, _, cols) = layout[nl];
        for a in 0..cols {
            grad[wo + a] += scale * ws.h[nl - 1][a];
            ws.delta[nl - 1][a] = self.params[wo + a] * act.derivative(ws.z[nl - 1][a]);
        }
        grad[bo] += scale;
        for l in (0..nl).rev() {
            let (wo, bo, rows, cols) = layout[l];
            let input: &[f64] = if l == 0 { x } else { &ws.h[l - 1] };
            for a in 0..rows {
                let d = scale * ws.delta[l][a];
                grad[bo + a] += d;
                for (g, v) in grad[wo + a * cols..wo + (a + 1) * cols]
                    .iter_mut()
                    .zip(input)
                {
                    *g += d * v;
                }
            }
            if l > 0 {
                let (lower, upper) = ws.delta.split_at_mut(l);
                let prev = &mut lower[l - 1];
                let cur = &upper[0];
                for (b, p) in prev.iter_mut().enumerate() {
                    let mut s = 0.0;
                    for a in 0..rows {
                        s += self.params[wo + a * cols + b] * cur[a];
                    }
                    *p = s * act.derivative(ws.z[l - 1][b]);
                }
            }
        }
    }

    /// `f(x, W)` for one input.
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut ws = Workspace::new(&self.arch);
        self.forward(x, &mut ws)
    }

    /// `∇_x f(x, W) = W_1ᵀ δ_1` (eq. 1) from the `δ_1` left by [`Mlp::backward`] (length `d`).
    pub fn input_gradient_from(&self, ws: &Workspace, out: &mut [f64]) {
        let d = self.arch.input_dim;
        out.iter_mut().for_each(|o| *o = 0.0);
        for (a, &da) in ws.delta[0].iter().enumerate() {
            for (o, w) in out.iter_mut().zip(&self.params[a * d..(a + 1) * d]) {
                *o += w * da;
            }
        }
    }

    /// Outputs and exact gradients at every row of `x` (`n × d`, row-major).
    pub fn per_sample(&self, x: &[f64], n: usize) -> PerSample {
        let d = self.arch.input_dim;
        let w = self.params.len();
        debug_assert_eq!(x.len(), n * d);
        let mut ws = Workspace::new(&self.arch);
        let mut out = PerSample {
            n,
            w,
            d,
            outputs: vec![0.0; n],
            param_grads: vec![0.0; n * w],
            input_grads: vec![0.0; n * d],
        };
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            out.outputs[i] = self.forward(xi, &mut ws);
            self.backward(
                xi,
                &mut ws,
                &mut out.param_grads[i * w..(i + 1) * w],
                1.0,
                false,
            );
            self.input_gradient_from(&ws, &mut out.input_grads[i * d..(i + 1) * d]);
        }
        out
    }
}

/// Outputs and gradients of a network at `n` inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct PerSample {
    /// `n`.
    pub n: usize,
    /// `w`.
    pub w: usize,
    /// `d`.
    pub d: usize,
    /// `f(x_i, W)`, length `n`.
    pub outputs: Vec<f64>,
    /// `∇_W f(x_i, W)` as the rows of an `n × w` row-major matrix (flattening order above).
    pub param_grads: Vec<f64>,
    /// `∇_x f(x_i, W)` as the rows of an `n × d` row-major matrix.
    pub input_grads: Vec<f64>,
}

impl PerSample {
    /// Row `i` of the parameter gradients.
    pub fn param_grad(&self, i: usize) -> &[f64] {
        &self.param_grads[i * self.w..(i + 1) * self.w]
    }

    /// Row `i` of the input gradients.
    pub fn input_grad(&self, i: usize) -> &[f64] {
        &self.input_grads[i * self.d..(i + 1) * self.d]
    }

    /// The parameter gradients as the analyzer's input matrix `A`.
    pub fn gradients(&self) -> Result<crate::Gradients> {
        crate::Gradients::from_row_major(
            self.n,
            self.w,
            self.param_grads.clone(),
            "network gradients",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_and_layout() {
        let a = Architecture::new(3, vec![4, 5], Activation::Tanh).unwrap();
        // 4·(3+1) + 5·(4+1) + 5 + 1
        assert_eq!(a.parameter_count(), 16 + 25 + 6);
        assert_eq!(
            a.layout(),
            vec![(0, 12, 4, 3), (16, 36, 5, 4), (41, 46, 1, 5)]
        );
        assert_eq!(a.describe(), "3-4-5-1 tanh");
        assert!(Architecture::new(0, vec![3], Activation::Tanh).is_err());
        assert!(Architecture::new(2, vec![], Activation::Tanh).is_err());
        assert!(Architecture::new(2, vec![3, 0], Activation::Tanh).is_err());
        assert!(Architecture::new(2, vec![usize::MAX / 2], Activation::Tanh).is_err());
    }

    #[test]
    fn hand_computed_network() {
        // d = 1, one hidden unit, relu: f = v·relu(w x + b) + c
        let a = Architecture::new(1, vec![1], Activation::Relu).unwrap();
        let net = Mlp::new(a, vec![2.0, 0.5, 3.0, -1.0]).unwrap();
        // x = 1: z = 2.5, f = 3·2.5 − 1 = 6.5; ∇ = [v x, v, relu(z), 1] = [3, 3, 2.5, 1]; ∇_x = w v = 6
        let ps = net.per_sample(&[1.0], 1);
        assert_eq!(ps.outputs, vec![6.5]);
        assert_eq!(ps.param_grads, vec![3.0, 3.0, 2.5, 1.0]);
        assert_eq!(ps.input_grads, vec![6.0]);
        assert!(Mlp::new(net.architecture().clone(), vec![0.0; 3]).is_err());
        assert!(Mlp::new(net.architecture().clone(), vec![f64::NAN; 4]).is_err());
    }

    #[test]
    fn init_is_deterministic() {
        let a = Architecture::new(3, vec![8], Activation::Relu).unwrap();
        assert_eq!(Mlp::init(a.clone(), 5), Mlp::init(a.clone(), 5));
        assert_ne!(Mlp::init(a.clone(), 5), Mlp::init(a, 6));
    }
}
