//! The block planner, shared by the analysis and the stable sets: for every degree `j` of the
//! reduced blocks `T_j^{(b)}` on `Sym^j(R^r)` (DESIGN §4), the dense closed form (DESIGN §3, an
//! `O(D³)` symmetric eigensolve) or the matrix-free operator with Lanczos (DESIGN §9), decided
//! with the size checks of both paths **before** any expensive work, so that a problem too large
//! for the chosen method fails at once with the sizes.
//!
//! [`SolverOptions`] are the settings every computation shares: the dense eigensolver, the method,
//! the dense dimension limit, the memory budget and the Lanczos settings.

use crate::engine::combinatorics::sym_dim;
use crate::engine::davidson::DavidsonOptions;
use crate::engine::lanczos::{Ends, LanczosOptions};
use crate::engine::moment_operator::check_dense_budget;
use crate::engine::spectrum::EigenBackend;
use crate::error::{Error, Param, Result};
use serde::Serialize;

/// Default limit of the dense path (a dense eigensolve of `D = 8000` takes about a minute on
/// 2 cores).
pub const DEFAULT_MAX_DENSE_DIM: usize = 8000;

/// How each block `T_j^{(b)}` is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorMethod {
    /// Dense when `D <= max_dense_dim` and the dense matrices fit the memory budget, else
    /// matrix-free (requested value only; reported blocks say which was used).
    #[default]
    Auto,
    /// The dense closed-form matrix and a full symmetric eigensolve.
    Dense,
    /// The matrix-free operator and Lanczos for both ends of the spectrum.
    MatrixFree,
    /// `j = 2`: the certified enclosure of `λ_max(T_2)` by the capacitance certificate and
    /// Rayleigh quotients ([`crate::engine::clustered`], DESIGN §12); what `Auto` uses for
    /// `j = 2` blocks beyond the dense limits. Other degrees go matrix-free (Lanczos).
    Clustered,
    /// `j >= 3`: the matrix-free operator and block Davidson with the diagonal preconditioner
    /// ([`crate::engine::davidson`]): a certified lower bound on `λ_max` (and upper bound on
    /// `λ_min`) by Rayleigh quotients, a residual as the error estimate; what `Auto` uses for
    /// `j >= 3` blocks beyond the dense limits. Forced, `j = 2` goes to the clustered solver.
    Davidson,
}

impl std::str::FromStr for OperatorMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(OperatorMethod::Auto),
            "dense" => Ok(OperatorMethod::Dense),
            "matrix-free" => Ok(OperatorMethod::MatrixFree),
            "clustered" => Ok(OperatorMethod::Clustered),
            "davidson" => Ok(OperatorMethod::Davidson),
            o => Err(format!(
                "unknown method '{o}' (expected 'auto', 'dense', 'matrix-free', 'clustered' or 'davidson')"
            )),
        }
    }
}

impl std::fmt::Display for OperatorMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OperatorMethod::Auto => "auto",
            OperatorMethod::Dense => "dense",
            OperatorMethod::MatrixFree => "matrix-free",
            OperatorMethod::Clustered => "clustered",
            OperatorMethod::Davidson => "davidson",
        })
    }
}

/// The solver settings shared by [`crate::Problem::analyze`], [`crate::Problem::thresholds`]
/// and [`crate::Problem::diagram`].
///
/// ```
/// use sgdstab::{EigenBackend, OperatorMethod, SolverOptions};
///
/// let s = SolverOptions::default()
///     .method(OperatorMethod::MatrixFree)
///     .lanczos_tolerance(1e-12)
///     .memory_budget(Some(1 << 30));
/// assert_eq!(s.eigensolver, EigenBackend::default());
/// s.validate().unwrap();
/// assert!(SolverOptions::default().lanczos_tolerance(0.0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SolverOptions {
    /// Dense symmetric eigensolver (faer, or LAPACK with the `lapack` feature).
    pub eigensolver: EigenBackend,
    /// Dense, matrix-free, or automatic per block (the stable sets: `MatrixFree` sends every
    /// block to the scale path, `Dense` demands the linearization).
    pub method: OperatorMethod,
    /// Largest block dimension `D = C(r + j − 1, j)` the dense path accepts (default
    /// [`DEFAULT_MAX_DENSE_DIM`]; the eigensolve costs `O(D³)`).
    pub max_dense_dim: usize,
    /// Memory budget in bytes (`None`: [`crate::memory::default_budget_bytes`], which reads
    /// `SGDSTAB_MEMORY_BYTES`).
    pub memory_budget: Option<u128>,
    /// Lanczos settings of the matrix-free path (DESIGN §9).
    pub lanczos: LanczosOptions,
    /// Block Davidson settings of the matrix-free blocks `j >= 3` ([`OperatorMethod::Davidson`]).
    pub davidson: DavidsonOptions,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            eigensolver: EigenBackend::default(),
            method: OperatorMethod::Auto,
            max_dense_dim: DEFAULT_MAX_DENSE_DIM,
            memory_budget: None,
            lanczos: LanczosOptions::default(),
            davidson: DavidsonOptions::default(),
        }
    }
}

impl SolverOptions {
    /// Sets [`SolverOptions::eigensolver`].
    pub fn eigensolver(mut self, e: EigenBackend) -> Self {
        self.eigensolver = e;
        self
    }

    /// Sets [`SolverOptions::method`].
    pub fn method(mut self, m: OperatorMethod) -> Self {
        self.method = m;
        self
    }

    /// Sets [`SolverOptions::max_dense_dim`].
    pub fn max_dense_dim(mut self, d: usize) -> Self {
        self.max_dense_dim = d;
        self
    }

    /// Sets [`SolverOptions::memory_budget`].
    pub fn memory_budget(mut self, bytes: Option<u128>) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Sets [`SolverOptions::lanczos`].
    pub fn lanczos(mut self, l: LanczosOptions) -> Self {
        self.lanczos = l;
        self
    }

    /// Sets [`SolverOptions::davidson`].
    pub fn davidson(mut self, d: DavidsonOptions) -> Self {
        self.davidson = d;
        self
    }

    /// Sets the relative residual tolerance of the iterative solvers: Lanczos
    /// ([`LanczosOptions::tolerance`]) and block Davidson ([`DavidsonOptions::tolerance`]).
    pub fn lanczos_tolerance(mut self, tol: f64) -> Self {
        self.lanczos.tolerance = tol;
        self.davidson.tolerance = tol;
        self
    }

    /// The memory budget in bytes.
    pub fn budget(&self) -> u128 {
        self.memory_budget
            .unwrap_or_else(crate::memory::default_budget_bytes)
    }

    /// Checks the settings: the eigensolver is built in, the Lanczos tolerance is finite and
    /// `> 0`, its basis holds at least 2 vectors and it may apply the operator at least once.
    pub fn validate(&self) -> Result<()> {
        if !self.eigensolver.available() {
            return Err(Error::parameter(
                Param::Eigensolver,
                self.eigensolver,
                "this build has no LAPACK; rebuild with `--features lapack`",
            ));
        }
        let l = &self.lanczos;
        if !(l.tolerance.is_finite() && l.tolerance > 0.0) {
            return Err(Error::parameter(
                Param::Lanczos,
                format!("tolerance {}", l.tolerance),
                "the Lanczos tolerance must be finite and > 0",
            ));
        }
        if l.max_basis < 2 || l.max_products == 0 {
            return Err(Error::parameter(
                Param::Lanczos,
                format!("max_basis {}, max_products {}", l.max_basis, l.max_products),
                "Lanczos needs a basis of at least 2 vectors and at least one product",
            ));
        }
        let dv = &self.davidson;
        if !(dv.tolerance.is_finite() && dv.tolerance > 0.0) || dv.max_products < 4 {
            return Err(Error::parameter(
                Param::Lanczos,
                format!(
                    "Davidson tolerance {}, max_products {}",
                    dv.tolerance, dv.max_products
                ),
                "the Davidson tolerance must be finite and > 0, and it needs at least 4 products",
            ));
        }
        Ok(())
    }
}

/// Bytes the matrix-free path needs for a block of dimension `d`: the Lanczos basis (and the
/// vectors kept at a restart) plus a few work vectors.
pub(crate) fn matrix_free_bytes(d: u128, lanczos: &LanczosOptions) -> u128 {
    let vectors = (lanczos.max_basis + 2 * lanczos.keep + 8) as u128;
    d.saturating_mul(vectors).saturating_mul(8)
}

/// The method of each block, indexed by the degree `j` (`None`: not needed, or `r = 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockPlan {
    /// `methods[j]` for `j = 0..=max_degree` (`methods[0]` is always `None`).
    pub methods: Vec<Option<OperatorMethod>>,
    /// The memory budget the plan was checked against.
    pub budget: u128,
}

impl BlockPlan {
    /// Whether some block is matrix-free (Lanczos, clustered or Davidson).
    pub fn any_matrix_free(&self) -> bool {
        self.methods.iter().flatten().any(|m| {
            matches!(
                m,
                OperatorMethod::MatrixFree | OperatorMethod::Clustered | OperatorMethod::Davidson
            )
        })
    }

    /// The method of block `j`.
    pub fn method(&self, j: usize) -> Option<OperatorMethod> {
        self.methods.get(j).copied().flatten()
    }
}

/// Plans the blocks `j` with `needed[j]` on `Sym^j(R^r)`: under `method`
///
/// - `Dense`: the dense matrices must fit the budget ([`Error::TooLarge`]) and
///   `D <= max_dense_dim` (else an error naming [`Param::Orders`] and the options to change);
/// - `Auto`: dense when both hold, else matrix-free;
/// - `MatrixFree` (and `Auto` beyond the dense limits): the Lanczos basis must fit the budget and
///   `D < 2^32` ([`Error::TooLarge`]).
pub(crate) fn plan_blocks(
    r: usize,
    needed: &[bool],
    method: OperatorMethod,
    solver: &SolverOptions,
) -> Result<BlockPlan> {
    plan_blocks_with(r, needed, method, solver, false)
}

/// Bytes of the block Davidson solver on block `j` of dimension `d`: its workspace
/// ([`crate::engine::davidson::workspace_bytes`], both ends for odd `j`) plus the partial sums
/// of one matrix-free product ([`crate::engine::matrix_free::product_bytes`]).
pub(crate) fn davidson_bytes(j: usize, d: u128, opts: &DavidsonOptions) -> u128 {
    let ends = if j % 2 == 0 {
        Ends::Largest
    } else {
        Ends::Both
    };
    crate::engine::davidson::workspace_bytes(d, opts, ends)
        .saturating_add(crate::engine::matrix_free::product_bytes(j, d))
}

/// [`plan_blocks`]; with `davidson`, matrix-free blocks `j >= 3` under `Auto` or `Davidson` are
/// planned for the block Davidson solver (its workspace checked against the budget) instead of
/// Lanczos.
fn plan_blocks_with(
    r: usize,
    needed: &[bool],
    method: OperatorMethod,
    solver: &SolverOptions,
    davidson: bool,
) -> Result<BlockPlan> {
    let budget = solver.budget();
    let mut methods = vec![None; needed.len()];
    for (j, slot) in methods.iter_mut().enumerate().skip(1) {
        if r == 0 || !needed[j] {
            continue;
        }
        let d = sym_dim(r, j).unwrap_or(u128::MAX);
        let dense_fits = check_dense_budget(r, j, budget);
        let within_dim = d <= solver.max_dense_dim as u128;
        *slot = Some(match method {
            OperatorMethod::Dense => {
                dense_fits?;
                if !within_dim {
                    return Err(Error::parameter(
                        Param::Orders,
                        j,
                        format!(
                            "T_{j} on Sym^{j}(R^{r}) has dimension D = {d} > the dense limit {} (an O(D³) eigensolve); lower k, raise {}, or use {} auto",
                            solver.max_dense_dim,
                            Param::MaxDenseDim.quoted(),
                            Param::Method.quoted()
                        ),
                    ));
                }
                OperatorMethod::Dense
            }
            OperatorMethod::Auto if dense_fits.is_ok() && within_dim => OperatorMethod::Dense,
            OperatorMethod::Auto | OperatorMethod::Davidson if davidson && j >= 3 => {
                let need = davidson_bytes(j, d, &solver.davidson);
                if need > budget || d > u32::MAX as u128 {
                    return Err(Error::too_large(
                        format!("the block Davidson solver on Sym^{j}(R^{r}) (D = {d})"),
                        need,
                        budget,
                        "lower the order k or the number of samples (r <= n), or raise SGDSTAB_MEMORY_BYTES",
                    ));
                }
                OperatorMethod::Davidson
            }
            OperatorMethod::Auto
            | OperatorMethod::MatrixFree
            | OperatorMethod::Clustered
            | OperatorMethod::Davidson => {
                let need = matrix_free_bytes(d, &solver.lanczos);
                if need > budget || d > u32::MAX as u128 {
                    return Err(Error::too_large(
                        format!("the matrix-free Lanczos on Sym^{j}(R^{r}) (D = {d})"),
                        need,
                        budget,
                        "lower the order k or the number of samples (r <= n), or raise SGDSTAB_MEMORY_BYTES",
                    ));
                }
                OperatorMethod::MatrixFree
            }
        });
    }
    Ok(BlockPlan { methods, budget })
}

/// [`plan_blocks`] for the analysis: a matrix-free `j = 2` block goes to the clustered solver
/// under `Auto`, `Clustered` and `Davidson` when its workspace
/// ([`crate::engine::clustered::workspace_bytes`]) fits the budget; under `Auto` and `Davidson`
/// it stays with Lanczos otherwise, under `Clustered` that is an [`Error::TooLarge`]. Matrix-free
/// blocks `j >= 3` go to block Davidson under `Auto` and `Davidson` (an [`Error::TooLarge`] when
/// its workspace does not fit the budget, refused before anything is allocated).
pub(crate) fn plan_analysis_blocks(
    r: usize,
    n: usize,
    needed: &[bool],
    method: OperatorMethod,
    solver: &SolverOptions,
) -> Result<BlockPlan> {
    let mut plan = plan_blocks_with(r, needed, method, solver, true)?;
    if !matches!(
        method,
        OperatorMethod::Auto | OperatorMethod::Clustered | OperatorMethod::Davidson
    ) {
        return Ok(plan);
    }
    if plan.method(2) == Some(OperatorMethod::MatrixFree) {
        let opts = crate::engine::clustered::ClusteredOptions::default();
        let need = crate::engine::clustered::workspace_bytes(n, r, opts.max_buckets);
        if need <= plan.budget {
            plan.methods[2] = Some(OperatorMethod::Clustered);
        } else if method == OperatorMethod::Clustered {
            return Err(Error::too_large(
                format!("the clustered solver of T_2 (n = {n}, r = {r})"),
                need,
                plan.budget,
                "lower the number of samples, or raise SGDSTAB_MEMORY_BYTES",
            ));
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solver(max_dense_dim: usize, budget: u128) -> SolverOptions {
        SolverOptions::default()
            .max_dense_dim(max_dense_dim)
            .memory_budget(Some(budget))
    }

    #[test]
    fn auto_goes_matrix_free_beyond_the_dense_limit_and_dense_demands_it() {
        // r = 10: D = 10, 55, 220 for j = 1, 2, 3
        let needed = [false, true, true, true];
        let s = solver(100, 1 << 30);
        let p = plan_blocks(10, &needed, OperatorMethod::Auto, &s).unwrap();
        assert_eq!(
            p.methods,
            vec![
                None,
                Some(OperatorMethod::Dense),
                Some(OperatorMethod::Dense),
                Some(OperatorMethod::MatrixFree)
            ]
        );
        assert!(p.any_matrix_free());
        let e = plan_blocks(10, &needed, OperatorMethod::Dense, &s).unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { param: Param::Orders, ref value, .. } if value == "3"),
            "{e}"
        );
        assert!(e.to_string().contains("`max_dense_dim`"), "{e}");
        let p = plan_blocks(10, &needed, OperatorMethod::MatrixFree, &s).unwrap();
        assert!(p.methods[1..]
            .iter()
            .all(|m| *m == Some(OperatorMethod::MatrixFree)));
    }

    #[test]
    fn analysis_sends_matrix_free_j2_to_the_clustered_solver_when_its_workspace_fits() {
        // r = 10, n = 20: D = 10, 55, 220; the dense limit 50 sends j = 2, 3 matrix-free
        let needed = [false, true, true, true];
        let p = plan_analysis_blocks(10, 20, &needed, OperatorMethod::Auto, &solver(50, 1 << 30))
            .unwrap();
        assert_eq!(p.method(1), Some(OperatorMethod::Dense));
        assert_eq!(p.method(2), Some(OperatorMethod::Clustered));
        assert_eq!(p.method(3), Some(OperatorMethod::Davidson));
        assert!(p.any_matrix_free());
        // forced: every block off the dense path, j = 2 clustered
        let p = plan_analysis_blocks(
            10,
            20,
            &needed,
            OperatorMethod::Clustered,
            &solver(8000, 1 << 30),
        )
        .unwrap();
        assert_eq!(p.method(2), Some(OperatorMethod::Clustered));
        assert_eq!(p.method(3), Some(OperatorMethod::MatrixFree));
        // a budget that holds the Lanczos basis but not the clustered workspace (n = 5000)
        let need = crate::engine::clustered::workspace_bytes(5000, 10, 160);
        let lanczos = matrix_free_bytes(55, &LanczosOptions::default());
        assert!(lanczos < need);
        let s = solver(50, need - 1);
        let p = plan_analysis_blocks(10, 5000, &needed, OperatorMethod::Auto, &s).unwrap();
        assert_eq!(p.method(2), Some(OperatorMethod::MatrixFree));
        assert!(matches!(
            plan_analysis_blocks(10, 5000, &needed, OperatorMethod::Clustered, &s),
            Err(Error::TooLarge { .. })
        ));
        // forced Davidson: j >= 3 Davidson, j = 2 clustered, j = 1 exact (matrix-free)
        let p = plan_analysis_blocks(
            10,
            20,
            &needed,
            OperatorMethod::Davidson,
            &solver(8000, 1 << 30),
        )
        .unwrap();
        assert_eq!(p.method(1), Some(OperatorMethod::MatrixFree));
        assert_eq!(p.method(2), Some(OperatorMethod::Clustered));
        assert_eq!(p.method(3), Some(OperatorMethod::Davidson));
        // the stable sets' planner never picks the clustered solver
        let p = plan_blocks(10, &needed, OperatorMethod::Clustered, &solver(50, 1 << 30)).unwrap();
        assert_eq!(p.method(2), Some(OperatorMethod::MatrixFree));
    }

    #[test]
    fn the_davidson_workspace_is_checked_against_the_budget_before_solving() {
        // r = 200, j = 3: D = C(202, 3) = 1 353 400, odd: both ends
        let needed = [false, false, false, true];
        let d = sym_dim(200, 3).unwrap();
        let need = davidson_bytes(3, d, &DavidsonOptions::default());
        let ws = DavidsonOptions::default().workspace_vectors(Ends::Both) as u128;
        assert_eq!(
            need,
            8 * d * ws + crate::engine::matrix_free::product_bytes(3, d)
        );
        // fits: Davidson; one byte short: refused naming the solver, before any allocation
        let p = plan_analysis_blocks(200, 200, &needed, OperatorMethod::Auto, &solver(8000, need))
            .unwrap();
        assert_eq!(p.method(3), Some(OperatorMethod::Davidson));
        let e = plan_analysis_blocks(
            200,
            200,
            &needed,
            OperatorMethod::Auto,
            &solver(8000, need - 1),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::TooLarge { .. }) && e.to_string().contains("Davidson"),
            "{e}"
        );
        // even j holds one end only: a smaller workspace
        assert!(davidson_bytes(4, d, &DavidsonOptions::default()) < need);
    }

    #[test]
    fn sizes_are_checked_against_the_budget() {
        let needed = [false, false, true];
        // the dense T_2 on Sym^2(R^10) does not fit 1000 bytes, nor does the Lanczos basis
        let s = solver(100, 1000);
        assert!(matches!(
            plan_blocks(10, &needed, OperatorMethod::Dense, &s),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            plan_blocks(10, &needed, OperatorMethod::Auto, &s),
            Err(Error::TooLarge { .. })
        ));
        // r = 0: nothing to plan
        let p = plan_blocks(0, &needed, OperatorMethod::Dense, &s).unwrap();
        assert!(p.methods.iter().all(Option::is_none));
    }
}
