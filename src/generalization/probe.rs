//! The model-side quantities of Section 5, measured by probing the model around `W*` and around
//! the training inputs: the local-smoothness constant `C` of Definition 1 and the sensitivity
//! `|f(x) − f(x_i)|` that Theorem 7 (eq. 27) bounds.
//!
//! Both are **empirical lower estimates** of a supremum over a ball: every reported value is
//! attained exactly (a forward/backward pass at a point inside the ball), but the ball is only
//! sampled, so the true supremum can be larger. Seeded ([`crate::random::SplitMix64`]) and
//! deterministic; the work is split over training points with rayon and collected in order.

use crate::engine::bounds::norm_2k;
use crate::networks::network::{Mlp, Workspace};
use crate::random::SplitMix64;
use serde::Serialize;

/// A model `f(x, W) = f̃(W_1 x, W_2)` (eq. 6) with its parameters `W*`, as Section 5 uses it.
pub trait InputLayerModel: Sync {
    /// Input dimension `d`.
    fn input_dim(&self) -> usize;
    /// `W*` (length `w`), in the order of [`InputLayerModel::gradients_at`]'s parameter gradient.
    fn params(&self) -> &[f64];
    /// `W_1` as a row-major `m × d` matrix, and `m`.
    fn first_layer(&self) -> (Vec<f64>, usize);
    /// `f(x, W)` at parameters `w`.
    fn value_at(&self, w: &[f64], x: &[f64]) -> f64;
    /// `f(x, W)` at parameters `w`; writes `∇_W f(x, W)` (length `w`) into `param_grad` and
    /// `∇_x f(x, W)` (length `d`) into `input_grad`.
    fn gradients_at(
        &self,
        w: &[f64],
        x: &[f64],
        param_grad: &mut [f64],
        input_grad: &mut [f64],
    ) -> f64;
}

impl InputLayerModel for Mlp {
    fn input_dim(&self) -> usize {
        self.architecture().input_dim
    }
    fn params(&self) -> &[f64] {
        Mlp::params(self)
    }
    fn first_layer(&self) -> (Vec<f64>, usize) {
        (self.w1().to_vec(), self.architecture().first_width())
    }
    fn value_at(&self, w: &[f64], x: &[f64]) -> f64 {
        let mut net = self.clone();
        net.params_mut().copy_from_slice(w);
        net.predict(x)
    }
    fn gradients_at(
        &self,
        w: &[f64],
        x: &[f64],
        param_grad: &mut [f64],
        input_grad: &mut [f64],
    ) -> f64 {
        let mut net = self.clone();
        net.params_mut().copy_from_slice(w);
        let mut ws = Workspace::new(net.architecture());
        let f = net.forward(x, &mut ws);
        net.backward(x, &mut ws, param_grad, 1.0, false);
        net.input_gradient_from(&ws, input_grad);
        f
    }
}

/// How hard the probes search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProbeOptions {
    /// Random directions per training point and radius (uniform on the sphere of that radius).
    pub random_directions: usize,
    /// Steps of each projected-ascent chain (0 = no ascent).
    pub ascent_steps: usize,
    /// Seed of the random directions.
    pub seed: u64,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            random_directions: 16,
            ascent_steps: 8,
            seed: 0,
        }
    }
}

fn unit_gaussian(rng: &mut SplitMix64, len: usize) -> Vec<f64> {
    loop {
        let v: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if n > 0.0 {
            return v.into_iter().map(|a| a / n).collect();
        }
    }
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// `center + (point − center)·min(1, radius/‖point − center‖)`: the projection onto the ball.
fn project(point: &mut [f64], center: &[f64], radius: f64) {
    let off: f64 = point
        .iter()
        .zip(center)
        .map(|(p, c)| (p - c) * (p - c))
        .sum::<f64>()
        .sqrt();
    if off > radius {
        let s = radius / off;
        for (p, c) in point.iter_mut().zip(center) {
            *p = c + (*p - c) * s;
        }
    }
}

/// Definition 1 at one training point and one radius: the largest sampled
/// `‖∇_W f(x_i, W')‖_{2k}` for each order, over `W'` with `‖W' − W*‖_2 <= radius`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientProbe {
    /// `‖∇_W f(x_i, W*)‖_{2k}` per order (in the order of the `orders` argument).
    pub at_minimum: Vec<f64>,
    /// The largest `‖∇_W f(x_i, W')‖_{2k}` found per order (at least `at_minimum`).
    pub largest: Vec<f64>,
}

/// Probes `‖∇_W f(x, W')‖_{2k}` over the ball `‖W' − W*‖_2 <= radius` (Definition 1): the centre,
/// `random_directions` points on the sphere, and per order a projected-ascent chain on
/// `‖∇_W f(x, W')‖_{2k}^{2k}` from `W*` (steps of `radius/2` along `H(W')·∇φ`, the Hessian–vector
/// product taken by a central difference of two backward passes; a search direction only —
/// every value reported is an exact backward pass at a point inside the ball).
pub fn probe_parameter_gradient<M: InputLayerModel + ?Sized>(
    model: &M,
    x: &[f64],
    radius: f64,
    orders: &[usize],
    opts: &ProbeOptions,
    rng: &mut SplitMix64,
) -> GradientProbe {
    let w0 = model.params();
    let (w, d) = (w0.len(), x.len());
    let mut g = vec![0.0; w];
    let mut xg = vec![0.0; d];
    model.gradients_at(w0, x, &mut g, &mut xg);
    let at_minimum: Vec<f64> = orders.iter().map(|&k| norm_2k(&g, k)).collect();
    let mut largest = at_minimum.clone();
    let record = |g: &[f64], largest: &mut [f64]| {
        for (l, &k) in largest.iter_mut().zip(orders) {
            *l = l.max(norm_2k(g, k));
        }
    };
    if radius <= 0.0 {
        return GradientProbe {
            at_minimum,
            largest,
        };
    }
    let mut wp = vec![0.0; w];
    for _ in 0..opts.random_directions {
        let v = unit_gaussian(rng, w);
        for j in 0..w {
            wp[j] = w0[j] + radius * v[j];
        }
        model.gradients_at(&wp, x, &mut g, &mut xg);
        record(&g, &mut largest);
    }
    let mut gp = vec![0.0; w];
    let mut gm = vec![0.0; w];
    for (oi, &k) in orders.iter().enumerate() {
        wp.copy_from_slice(w0);
        if opts.ascent_steps > 0 {
            model.gradients_at(&wp, x, &mut g, &mut xg);
        }
        for _ in 0..opts.ascent_steps {
            // g = ∇_W f(x, wp) here; ∇φ for φ = ‖g‖_{2k}^{2k}/(2k): sign(g)|g|^{2k−1}, normalised
            let p = 2 * k as i32 - 1;
            let mut u: Vec<f64> = g.iter().map(|v| v.signum() * v.abs().powi(p)).collect();
            let un = norm2(&u);
            if un == 0.0 || !un.is_finite() {
                break;
            }
            u.iter_mut().for_each(|a| *a /= un);
            let eps = 1e-4 * radius;
            let plus: Vec<f64> = wp.iter().zip(&u).map(|(a, b)| a + eps * b).collect();
            let minus: Vec<f64> = wp.iter().zip(&u).map(|(a, b)| a - eps * b).collect();
            model.gradients_at(&plus, x, &mut gp, &mut xg);
            model.gradients_at(&minus, x, &mut gm, &mut xg);
            let h: Vec<f64> = gp.iter().zip(&gm).map(|(a, b)| a - b).collect();
            let hn = norm2(&h);
            if hn == 0.0 || !hn.is_finite() {
                break;
            }
            for j in 0..w {
                wp[j] += 0.5 * radius * h[j] / hn;
            }
            project(&mut wp, w0, radius);
            model.gradients_at(&wp, x, &mut g, &mut xg);
            largest[oi] = largest[oi].max(norm_2k(&g, k));
        }
    }
    GradientProbe {
        at_minimum,
        largest,
    }
}

/// How the largest change of `f` around a training point was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// A point uniformly on the sphere.
    Random,
    /// `x_i ± δ ∇_x f(x_i)/‖∇_x f(x_i)‖`.
    InputGradient,
    /// Projected ascent on `|f(x) − f(x_i)|` from the input-gradient points.
    Ascent,
    /// A point recorded with the model's output in the bundle (`perturbed_x.npy`).
    Recorded,
}

/// The largest `|f(x) − f(x_i)|` per kind of probe, over `‖x − x_i‖_2 <= δ`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sensitivity {
    /// Over the random directions.
    pub random: f64,
    /// Over the two input-gradient directions.
    pub input_gradient: f64,
    /// Over the ascent chains.
    pub ascent: f64,
}

impl Sensitivity {
    /// The largest of the three, and which kind found it.
    pub fn max(&self) -> (f64, ProbeKind) {
        let mut best = (self.random, ProbeKind::Random);
        if self.input_gradient > best.0 {
            best = (self.input_gradient, ProbeKind::InputGradient);
        }
        if self.ascent > best.0 {
            best = (self.ascent, ProbeKind::Ascent);
        }
        best
    }
}

/// Probes `|f(x) − f(x_i)|` over `‖x − x_i‖_2 <= δ` at `W*` (the left-hand side of eq. 27):
/// `random_directions` points on the sphere, the two input-gradient points
/// `x_i ± δ ∇_x f/‖∇_x f‖`, and from each of these an ascent chain (steps of `δ/4` along
/// `±∇_x f(x)`, projected onto the ball).
pub fn probe_sensitivity<M: InputLayerModel + ?Sized>(
    model: &M,
    xi: &[f64],
    delta: f64,
    opts: &ProbeOptions,
    rng: &mut SplitMix64,
) -> Sensitivity {
    let w0 = model.params();
    let (w, d) = (w0.len(), xi.len());
    let mut pg = vec![0.0; w];
    let mut g = vec![0.0; d];
    let f0 = model.gradients_at(w0, xi, &mut pg, &mut g);
    let mut out = Sensitivity {
        random: 0.0,
        input_gradient: 0.0,
        ascent: 0.0,
    };
    let mut x = vec![0.0; d];
    for _ in 0..opts.random_directions {
        let v = unit_gaussian(rng, d);
        for j in 0..d {
            x[j] = xi[j] + delta * v[j];
        }
        out.random = out.random.max((model.value_at(w0, &x) - f0).abs());
    }
    let gn = norm2(&g);
    if gn == 0.0 {
        return out;
    }
    for sign in [1.0, -1.0] {
        for j in 0..d {
            x[j] = xi[j] + sign * delta * g[j] / gn;
        }
        let mut xg = vec![0.0; d];
        let mut f = model.gradients_at(w0, &x, &mut pg, &mut xg);
        out.input_gradient = out.input_gradient.max((f - f0).abs());
        for _ in 0..opts.ascent_steps {
            let n = norm2(&xg);
            if n == 0.0 {
                break;
            }
            let s = if f >= f0 { 1.0 } else { -1.0 };
            for j in 0..d {
                x[j] += s * 0.25 * delta * xg[j] / n;
            }
            project(&mut x, xi, delta);
            f = model.gradients_at(w0, &x, &mut pg, &mut xg);
            out.ascent = out.ascent.max((f - f0).abs());
        }
    }
    out
}
