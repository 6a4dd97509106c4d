//! Section 3 of the paper and DESIGN §3–9: the exact moment operator `T_k^{η,B}` (eq. 16) on
//! symmetric tensors, its spectrum, the Theorem 1 verdict, Prop. 1, Theorem 2 and Corollary 1.
//!
//! | module | concept |
//! |---|---|
//! | [`gradients`] | the input matrix `A` (`n × w`, rows = samples) |
//! | [`reduction`] | span reduction to `r = rank(A)` coordinates (DESIGN §4) |
//! | [`sampling`] | batch sampling schemes and the exact batch moments `κ` (DESIGN §3) |
//! | `combinatorics` (internal) | binomials, partitions, `dim Sym^k(R^r)` |
//! | [`symmetric`] | symmetric tensors, their orthonormal basis and polynomial algebra (DESIGN §5) |
//! | [`moment_operator`] | `T_k^{η,B}` of eq. (16) in closed form (dense) |
//! | [`matrix_free`] | `T_k` applied without forming it (DESIGN §9) |
//! | [`linop`] | the symmetric-operator trait shared by dense and matrix-free operators |
//! | [`lanczos`] | extreme eigenvalues of matrix-free operators |
//! | [`clustered`] | a certified enclosure of `λ_max(T_2)` for clustered spectra (DESIGN §12) |
//! | [`davidson`] | block Davidson for the clustered tops of `T_j`, `j >= 3` (Rayleigh bounds) |
//! | [`spectrum`] | dense eigensolvers and error bounds (DESIGN §8) |
//! | [`stability`] | Theorem 1 verdicts and the cone check |
//! | [`inertia`] | deciding `λ_max(T_j) > 1` near flat directions (Sylvester's law of inertia) |
//! | [`prop1`] | Proposition 1 |
//! | [`bounds`] | Theorem 2 (eq. 18) and Corollary 1 (eq. 19) |
//! | [`analysis`] | the `analyze` report |
//! | `planner` (internal) | the one block planner: dense or matrix-free per block, with the size checks |

pub use planner::{OperatorMethod, SolverOptions, DEFAULT_MAX_DENSE_DIM};

pub mod analysis;
pub mod bounds;
pub(crate) mod cancellable;
pub mod clustered;
pub(crate) mod combinatorics;
pub mod davidson;
pub mod gradients;
pub mod inertia;
pub mod lanczos;
pub mod linop;
pub mod matrix_free;
pub mod moment_operator;
pub(crate) mod planner;
pub mod prop1;
pub mod reduction;
pub mod sampling;
pub mod spectrum;
pub mod stability;
pub mod symmetric;
