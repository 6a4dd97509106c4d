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
//! One entry point, [`Problem`]: the gradients with their sampling scheme and rank tolerance,
//! reduced once; then [`Problem::analyze`], [`Problem::thresholds`] and [`Problem::diagram`]
//! (the README's "Library" section, whose example this is):
//!
//! ```
//! use sgdstab::{AnalyzeOptions, Gradients, Hooks, Problem, ProblemOptions, ThresholdOptions};
//!
//! // four samples (rows) of a three-parameter model's output gradients a_i = ∇_W f(x_i, W*)
//! let a = Gradients::from_rows(&[
//!     vec![1.0, 0.5, 1.0],
//!     vec![-0.5, 1.0, 1.0],
//!     vec![0.25, -0.75, 1.0],
//!     vec![0.5, 0.25, 1.0],
//! ])?;
//! let problem = Problem::from_gradients(&a, &ProblemOptions::default(), Hooks::none())?;
//!
//! // Theorem 1 at η = 0.2, B = 2 for k = 1, 2 (the defaults), with Prop. 1, Theorem 2, Corollary 1
//! let report = problem.analyze(0.2, 2, &AnalyzeOptions::default(), Hooks::none())?;
//! for o in &report.orders {
//!     println!("k = {}: ρ = {:.6} ± {:.1e}, {}", o.k, o.reduced_radius, o.error_bound, o.verdict);
//! }
//! assert!(report.consistency.ok);
//!
//! // the exact stable learning rates S_k and η*_k at B = 2
//! let sets = problem.thresholds(2, &ThresholdOptions::default(), Hooks::none())?;
//! let eta1 = sets.orders[0].set.lr_threshold.unwrap();
//! assert!((eta1 - 2.0 / sets.sharpness).abs() < 1e-12 * eta1); // η*_1 = 2/λ_max(H)
//! println!("{}", sgdstab::report::to_json(&report)?); // the JSON report of `sgdstab analyze`
//! # Ok::<(), sgdstab::Error>(())
//! ```
//!
//! Problems are built from an owned matrix ([`Problem::from_gradients`]), a file
//! ([`Problem::from_file`]) or borrowed `f64`/`f32` data with any strides ([`GradientView`],
//! [`Problem::from_view`], [`Problem::from_views`]) without an `f64` copy. Options
//! ([`ProblemOptions`], [`AnalyzeOptions`], [`ThresholdOptions`], [`DiagramOptions`], sharing
//! [`SolverOptions`]) have `Default` and builder methods. Errors are typed ([`Error`]); a
//! parameter is named by its library spelling ([`Param`]), never by a command-line flag.
//! [`Hooks`] carry progress events and a cancellation flag polled at every operator product.
//!
//! Module map, by the paper's sections:
//!
//! | module | concept |
//! |---|---|
//! | [`problem`] | the entry point: [`Problem`], its constructors (owned, file, borrowed views) and options |
//! | [`engine`] | Section 3: `T_k^{η,B}` of eq. (16) in closed form and matrix-free, span reduction, spectra, Theorem 1, Prop. 1, Theorem 2, Corollary 1 |
//! | [`threshold`] | the exact stable learning-rate sets `S_k`, thresholds `η*_k` (DESIGN §7) and the (η, B) diagram |
//! | [`networks`] | Section 4: networks, data sets, training, export, Sobolev checks, simulation, sweep |
//! | [`generalization`] | Section 5: Theorem 6 (eq. 26) and Theorem 7 (eq. 27) against measured test error and sensitivity |
//! | [`verify`] | property-based checks of the paper's implications (and proptest strategies, feature `proptest-support`) |
//! | [`io`] | gradient files (NPY, NPZ, safetensors, text) and atomic writes |
//! | [`report`] | JSON and text rendering |
//! | [`plots`] | SVG/PNG figures with an embedded font |
//! | [`error`], [`memory`], [`parallel`], [`progress`], [`random`] | typed errors, the memory budget, thread-count independence, progress hooks, the seeded RNG |

#![warn(missing_docs)]

#[cfg(feature = "lapack")]
extern crate openblas_src;

pub mod engine;
pub mod error;
pub mod generalization;
pub mod io;
pub mod memory;
pub mod networks;
pub mod parallel;
#[cfg(feature = "plots")]
pub mod plots;
pub mod problem;
pub mod progress;
pub mod random;
pub mod report;
pub mod threshold;
pub mod verify;

pub use engine::analysis::{AnalysisReport, AnalyzeOptions, Check, ConeOptions, Finding};
pub use engine::gradients::{ColumnBlock, Gradients, Warning, WarningKind};
pub use engine::sampling::{BatchModel, Sampling};
pub use engine::spectrum::EigenBackend;
pub use engine::stability::Verdict;
pub use engine::{OperatorMethod, SolverOptions};
pub use error::{Error, Param, Result};
pub use problem::view::{GradientView, NamedView};
pub use problem::{analyze, diagram, thresholds, Problem, ProblemOptions};
pub use progress::{Cancel, Hooks, NeverCancel, NoProgress, Progress};
pub use threshold::diagram::{DiagramOptions, DiagramReport};
pub use threshold::{MethodChoice, Scope, ThresholdOptions, ThresholdReport};

/// The README's code blocks, compiled and run as doc tests (its Rust example is the one above).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
