//! Section 4 of the paper: small fully connected networks `f̃(W_1 x, W_2)` (eq. 6) trained to
//! interpolation by SGD (eq. 7), their exact gradients, the Sobolev quantities, the simulation of
//! eq. (12), and Figure 1 / Table 1 in kind.
//!
//! | module | concept |
//! |---|---|
//! | [`network`], [`activation`] | fully connected networks, exact backprop (eq. 1, 6) |
//! | [`batch`] | the same passes over a batch as GEMMs: the SGD step, the loss, `g_W`/`g_x` |
//! | [`datasets`] | built-in regression data (manifolds in `R^d`, Iris) |
//! | [`training`] | SGD of eq. (7) to an interpolation solution |
//! | [`export`] | the export folder of a trained network (`grads.npy`, `meta.json`, …) |
//! | [`sections`] | Section 4 on a network bundle of any framework: training point, premise, first layer |
//! | [`figure1`] | Figure 1 on the user's own runs: correlations and trends of `g_W`, `g_x` |
//! | [`sobolev`] | Prop. 2, Corollary 2, Theorem 3, `g_W`/`g_x` of eq. (5) |
//! | [`simulate`] | Monte Carlo of eq. (12) vs `ρ_k`; nonlinear escape test |
//! | [`sweep`] | Figure 1 / Table 1 in kind: `g_W` vs `g_x` over many runs, `‖W_1‖_2` |
//! | [`matrix_norm`] | matrix `p`-norms: closed forms and brackets |
//! | [`conv`] | a convolutional first layer as a linear map, its operator norm |
//! | [`pipeline`] | training with its export metadata, the `simulate` report, the demo |

pub mod activation;
pub mod batch;
pub mod conv;
pub mod datasets;
pub mod export;
pub mod figure1;
pub mod matrix_norm;
pub mod network;
pub mod pipeline;
pub mod sections;
pub mod simulate;
pub mod sobolev;
pub mod sweep;
pub mod training;
