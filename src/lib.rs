//! # sgdstab
//!
//! Exact linear stability of SGD at interpolating minima, after Ma & Ying, *On Linear Stability
//! of SGD and Input-Smoothness of Neural Networks* (NeurIPS 2021).
//!
//! Given per-sample gradients `a_i = ∇_W f(x_i, W*)` (the rows of an `n × w` matrix), a learning
//! rate `η`, a batch size `B` and orders `k`, the crate builds the batch-averaged moment operator
//! `T_k^{η,B}` of eq. (16) on symmetric `k`-tensors **exactly** — the expectation over all
//! `C(n, B)` batches in closed form, never by enumeration or sampling — and decides Theorem 1,
//! evaluates Prop. 1, Theorem 2 and Corollary 1.
//!
//! ```
//! use sgdstab::{analyze, AnalyzeOptions, Gradients, NoProgress};
//!
//! // three samples, two parameters
//! let a = Gradients::from_rows(&[vec![1.0, 0.5], vec![-0.5, 1.0], vec![0.25, 0.25]]).unwrap();
//! let report = analyze(&a, &AnalyzeOptions::new(0.5, 2, vec![1, 2]), None, &NoProgress).unwrap();
//! assert_eq!(report.orders[0].verdict.name(), "stable");
//! ```
//!
//! Module map (one concept of the paper each):
//!
//! | module | concept |
//! |---|---|
//! | [`gradients`], [`io`] | the input matrix `A` and its file formats |
//! | [`reduction`] | span reduction to `r = rank(A)` coordinates (DESIGN §4) |
//! | [`sampling`] | batch sampling schemes and the exact batch moments `κ` (DESIGN §3) |
//! | [`symmetric`] | symmetric tensors, their orthonormal basis and polynomial algebra (DESIGN §5) |
//! | [`moment_operator`] | `T_k^{η,B}` of eq. (16) in closed form |
//! | [`matrix_free`] | `T_k` applied without forming it (DESIGN §9) |
//! | [`lanczos`] | extreme eigenvalues of matrix-free operators |
//! | [`spectrum`] | eigensolvers and error bounds (DESIGN §8) |
//! | [`stability`] | Theorem 1 verdicts and the cone check |
//! | [`inertia`] | deciding `λ_max(T_j) > 1` near flat directions (Sylvester's law of inertia) |
//! | [`prop1`] | Proposition 1 |
//! | [`bounds`] | Theorem 2 and Corollary 1 |
//! | [`analysis`] | the `analyze` report |
//! | [`report`] | JSON and text rendering |
//! | [`plots`] | SVG/PNG figures with an embedded font |
//! | [`diagram`] | the (η, B) stability diagram table |
//! | `strategies` | proptest strategies for gradient sets and `(η, B)` pairs (feature `proptest-support`) |
//! | [`verify`] | property-based checks of the paper's implications (the `verify` command) |
//! | [`threshold`] | the exact stable learning-rate sets `S_k` and thresholds `η*_k` (DESIGN §7) |
//! | [`network`] | fully connected networks `f̃(W_1 x, W_2)` (eq. 6), exact backprop |
//! | [`datasets`] | built-in regression data (manifolds in `R^d`, Iris) |
//! | [`training`] | SGD of eq. (7) to an interpolation solution |
//! | [`export`] | the export folder of a trained network (`grads.npy`, `meta.json`, …) |
//! | [`generalization`] | Section 5: Theorem 6 (eq. 26) and Theorem 7 (eq. 27) against measured test error and sensitivity |
//! | [`sobolev`] | Section 4: Prop. 2, Corollary 2, Theorem 3, `g_W`/`g_x` of eq. (5) |
//! | [`simulate`] | Monte Carlo of eq. (12) vs `ρ_k`; nonlinear escape test |
//! | [`sweep`] | Figure 1 / Table 1 in kind: `g_W` vs `g_x` over many runs, `‖W_1‖_2` |
//! | [`matrix_norm`] | matrix `p`-norms: closed forms and brackets |
//! | [`random`] | the seeded RNG of training and simulation |

#![warn(missing_docs)]

#[cfg(feature = "lapack")]
extern crate openblas_src;

pub mod analysis;
pub mod bounds;
pub mod combinatorics;
pub mod datasets;
pub mod diagram;
pub mod error;
pub mod export;
pub mod generalization;
pub mod gradients;
pub mod inertia;
pub mod io;
pub mod lanczos;
pub mod linop;
pub mod matrix_free;
pub mod matrix_norm;
pub mod memory;
pub mod moment_operator;
pub mod network;
pub mod plots;
pub mod progress;
pub mod prop1;
pub mod random;
pub mod reduction;
pub mod report;
pub mod sampling;
pub mod simulate;
pub mod sobolev;
pub mod spectrum;
pub mod stability;
#[cfg(feature = "proptest-support")]
pub mod strategies;
pub mod sweep;
pub mod symmetric;
pub mod threshold;
pub mod training;
pub mod verify;

pub use analysis::{analyze, AnalysisReport, AnalyzeOptions};
pub use error::{Error, Result};
pub use gradients::Gradients;
pub use progress::{NoProgress, Progress};
pub use sampling::{BatchModel, Sampling};
pub use spectrum::EigenBackend;
pub use stability::Verdict;
