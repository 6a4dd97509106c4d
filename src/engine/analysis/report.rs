//! The `analyze` report: one struct per level (blocks, orders, the whole report), serialized as
//! the JSON of `sgdstab analyze` (schema [`ANALYZE_SCHEMA_VERSION`]).

use super::*;

/// A block solved by block Davidson ([`crate::engine::davidson`]): the certified sides and the
/// run. Nothing here bounds `λ_max` from above: the block's `error_bound` is the residual
/// `‖T x − θ x‖` of the reported Ritz pair, which in a cluster bounds the distance to *some*
/// eigenvalue, not to the largest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DavidsonReport {
    /// Exactly what is certified: `"lambda_max >= lambda_max_lower"` (even `j`) or
    /// `"lambda_max >= lambda_max_lower, lambda_min <= lambda_min_upper"` (odd `j`).
    pub certified: &'static str,
    /// Certified lower bound on `λ_max`: the Rayleigh quotient `lambda_max` of the exact operator
    /// at the top Ritz vector (one explicit product) minus `rounding`.
    pub lambda_max_lower: f64,
    /// Odd `j`: certified upper bound on `λ_min` (the bottom Rayleigh quotient plus `rounding`);
    /// `null` for even `j`, whose radius is `λ_max` (Krein–Rutman).
    pub lambda_min_upper: Option<f64>,
    /// Bound on the rounding of each Rayleigh quotient (operator, inner products, eigenbasis).
    pub rounding: f64,
    /// Residual `‖T x − θ x‖/‖x‖` of the top Ritz pair.
    pub residual_max: f64,
    /// Residual of the bottom Ritz pair (for even `j` the bottom end is not iterated).
    pub residual_min: f64,
    /// Whether the preconditioner was the exact diagonal of `T_j` (`j <= 3`) or left out the
    /// shapes with several parts (`j >= 4`; it only steers the iteration).
    pub exact_diagonal: bool,
    /// Operator products (including the explicit ones of the Rayleigh quotients).
    pub products: usize,
    /// Rayleigh–Ritz steps.
    pub iterations: usize,
    /// Restarts.
    pub restarts: usize,
    /// `converged` when the residuals met the tolerance, else `max-iterations`.
    pub termination: Termination,
}

/// Lanczos details of a matrix-free block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LanczosReport {
    /// Operator applications.
    pub products: usize,
    /// Thick restarts.
    pub restarts: usize,
    /// Why it stopped.
    pub termination: Termination,
    /// Explicit residual of the smallest Ritz pair.
    pub residual_min: f64,
    /// Explicit residual of the largest Ritz pair.
    pub residual_max: f64,
}

/// One block `T_j^{(b)}` of the spectrum of `T_k` on `Sym^k(R^w)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockReport {
    /// The degree `j` (0 = the flat block `T_0 = 1`).
    pub j: usize,
    /// `dim Sym^j(R^r)`.
    pub dim: usize,
    /// `ρ(T_j^{(b)})`.
    pub radius: f64,
    /// Smallest eigenvalue.
    pub lambda_min: f64,
    /// Largest eigenvalue.
    pub lambda_max: f64,
    /// Error bound on each eigenvalue.
    pub error_bound: f64,
    /// How often the block's spectrum repeats in `Sym^k(R^w)`: `C(w − r + k − j − 1, k − j)`.
    pub multiplicity: u128,
    /// `dense`, `matrix-free` or `clustered`.
    pub method: OperatorMethod,
    /// Lanczos details (matrix-free blocks `j >= 2`), else `null`.
    pub lanczos: Option<LanczosReport>,
    /// Clustered blocks only (key absent otherwise): the certified enclosure
    /// `[lower, upper]` of `λ_max` (`lambda_max` is its midpoint, `error_bound` its width).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enclosure: Option<Enclosure>,
    /// Davidson blocks only (key absent otherwise): what is certified (Rayleigh quotients: a
    /// lower bound on `λ_max`, for odd `j` an upper bound on `λ_min`) and how the solve went.
    /// `error_bound` is then a residual, not an enclosure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub davidson: Option<DavidsonReport>,
    /// The Sylvester-inertia certificate of the `+1` side ([`crate::engine::inertia`]): present when
    /// `λ_max(T_j)` is within its error bound of 1 (dense blocks; near-flat directions) and for
    /// matrix-free `j = 2` blocks; it then decides that side of the verdict. Else `null`.
    pub inertia: Option<InertiaCertificate>,
    /// All eigenvalues, ascending (only with `full_spectrum`, dense blocks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eigenvalues: Option<Vec<f64>>,
}

/// The cone check (Theorem 1, even `k`), on the top block `T_k^{(b)}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConeReport {
    /// `‖T X_t‖/‖X_t‖` at the last iterate (a lower bound on the Perron root); `null` when
    /// skipped.
    pub ratio: Option<f64>,
    /// Iterations done.
    pub iterations: usize,
    /// Relative eigen-residual at the end; `null` when skipped.
    pub residual: Option<f64>,
    /// Why it stopped (`skipped`: not run, see `reason`).
    pub termination: Termination,
    /// `ρ(T_k^{(b)})` from the eigensolver, for comparison.
    pub block_radius: f64,
    /// `|ratio − block_radius| / block_radius`; `null` when skipped.
    pub relative_difference: Option<f64>,
    /// Why the check was skipped (key present only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Everything about one order `k`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderReport {
    /// The order.
    pub k: usize,
    /// `ρ_k` of `T_k` on `Sym^k(R^w)`: the maximum over the present blocks, including the flat
    /// block `T_0 = 1` when `r < w` (so at least 1 then).
    pub spectral_radius: f64,
    /// `max_{1<=j<=k} ρ(T_j^{(b)})` over the present blocks: the quantity the verdict decides on.
    pub reduced_radius: f64,
    /// Largest error bound of the blocks `j >= 1`.
    pub error_bound: f64,
    /// `stable`, `unstable` or `marginal`.
    pub verdict: Verdict,
    /// `1 − reduced_radius` (positive when stable).
    pub margin: f64,
    /// Cone ratio for even `k` (see [`ConeReport`]), else `null`.
    pub cone_ratio: Option<f64>,
    /// Details of the cone check for even `k`, else `null`.
    pub cone: Option<ConeReport>,
    /// The blocks `j = 0..k` present in `Sym^k(R^w)`.
    pub blocks: Vec<BlockReport>,
    /// Theorem 2 (eq. 18) on the original coordinates.
    pub theorem2: Theorem2,
    /// Corollary 1 (eq. 19).
    pub corollary1: Corollary1,
    /// No consistency finding concerns this order.
    pub consistent: bool,
}

/// An implication of the paper checked on every input (DESIGN §6). Serialized as its name
/// ([`Check::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Check {
    /// Theorem 1 stable ⇒ Theorem 2 (eq. 18) holds: `stable=>theorem2`.
    #[serde(rename = "stable=>theorem2")]
    StableImpliesTheorem2,
    /// Theorem 1 stable ⇒ Corollary 1 (eq. 19) holds: `stable=>corollary1`.
    #[serde(rename = "stable=>corollary1")]
    StableImpliesCorollary1,
    /// Theorem 2 ⇒ Corollary 1 (Hölder): `theorem2=>corollary1`.
    #[serde(rename = "theorem2=>corollary1")]
    Theorem2ImpliesCorollary1,
    /// Prop. 1 bounds the second order: `ρ(T_2) <= q`, `ρ(T_1)² <= q`, and `q <= 1` ⇒ order 2
    /// stable: `prop1=>order2`.
    #[serde(rename = "prop1=>order2")]
    Prop1ImpliesOrder2,
    /// The cone ratio is a lower bound on the spectral radius (Krein–Rutman): `cone<=radius`.
    #[serde(rename = "cone<=radius")]
    ConeBelowRadius,
    /// Matrix-free `j = 2`: the inertia certificate and `λ_max − 1` decide the `+1` side alike:
    /// `inertia=radius`.
    #[serde(rename = "inertia=radius")]
    InertiaMatchesRadius,
}

impl Check {
    /// The name used in reports: `stable=>theorem2`, `stable=>corollary1`,
    /// `theorem2=>corollary1`, `prop1=>order2`, `cone<=radius` or `inertia=radius`.
    pub fn name(self) -> &'static str {
        match self {
            Check::StableImpliesTheorem2 => "stable=>theorem2",
            Check::StableImpliesCorollary1 => "stable=>corollary1",
            Check::Theorem2ImpliesCorollary1 => "theorem2=>corollary1",
            Check::Prop1ImpliesOrder2 => "prop1=>order2",
            Check::ConeBelowRadius => "cone<=radius",
            Check::InertiaMatchesRadius => "inertia=radius",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An implication that failed on this input: a counterexample to the paper or a bug.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The implication.
    pub check: Check,
    /// The order concerned.
    pub k: usize,
    /// What failed, with the numbers.
    pub message: String,
}

/// The consistency section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consistency {
    /// No finding.
    pub ok: bool,
    /// The findings.
    pub findings: Vec<Finding>,
}

/// The `analyze` report (`schema_version` [`ANALYZE_SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AnalysisReport {
    /// Schema version.
    pub schema_version: u32,
    /// Always `"analyze"`.
    pub command: &'static str,
    /// sgdstab version.
    pub tool_version: &'static str,
    /// Where the gradients came from (a file, or the caller's name for them).
    pub input: Option<String>,
    /// Samples.
    pub n: usize,
    /// Parameters.
    pub w: usize,
    /// `r = rank(A)`.
    pub rank: usize,
    /// Relative rank tolerance `τ` used.
    pub rank_tolerance: f64,
    /// How the reduced coordinates were obtained.
    pub reduction: ReductionMethod,
    /// Largest Gram eigenvalue `σ_max²`.
    pub gram_eigenvalue_max: f64,
    /// Learning rate `η` of the square loss `(1/2n) Σ (f(x_i) − y_i)²` (see the README).
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Sampling scheme.
    pub sampling: Sampling,
    /// Eigensolver used.
    pub eigensolver: EigenBackend,
    /// `λ_max(H)` (sharpness; `η*_1 = 2/λ_max(H)`).
    pub sharpness: f64,
    /// `Tr H = (1/n) Σ ‖a_i‖²` (flatness, eq. 3).
    pub flatness: f64,
    /// Whether the gradients were streamed from disk (never held whole).
    pub streamed: bool,
    /// The requested operator method (`auto`, `dense`, `matrix-free`); blocks say which was used.
    pub method: OperatorMethod,
    /// Prop. 1.
    pub prop1: Prop1,
    /// One entry per requested order.
    pub orders: Vec<OrderReport>,
    /// Implications checked on this input.
    pub consistency: Consistency,
    /// For a per-parameter dictionary input: where each parameter's columns are (`null` for a
    /// single matrix).
    pub column_layout: Option<Vec<ColumnBlock>>,
    /// `‖(1/n) Σ a_i‖ / ((1/n) Σ ‖a_i‖)` (`null` when every row is zero): near 0 for per-sample
    /// loss gradients ([`crate::engine::gradients::LOSS_GRADIENT_RATIO`]).
    pub mean_gradient_ratio: Option<f64>,
    /// Warnings about the input (e.g. rows that look like loss gradients).
    pub warnings: Vec<Warning>,
}
