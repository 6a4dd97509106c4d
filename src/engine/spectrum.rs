//! Symmetric eigensolvers and spectral summaries with error bounds (DESIGN §8).
//!
//! The default backend is faer (pure Rust); with the cargo feature `lapack`, LAPACK `dsyevd`
//! (through the `lapack` bindings that nalgebra-lapack uses, linked to the system OpenBLAS).

use crate::error::{Error, Param, Result};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Which dense symmetric eigensolver to use.
///
/// The default is faer, or LAPACK when the crate is built with the `lapack` feature (so that
/// `cargo test --features lapack` runs every test through `dsyevd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EigenBackend {
    /// faer's self-adjoint eigensolver (pure Rust).
    Faer,
    /// LAPACK `dsyevd` (feature `lapack`).
    Lapack,
}

impl Default for EigenBackend {
    fn default() -> Self {
        if cfg!(feature = "lapack") {
            EigenBackend::Lapack
        } else {
            EigenBackend::Faer
        }
    }
}

impl EigenBackend {
    /// Whether this build can use the backend.
    pub fn available(self) -> bool {
        match self {
            EigenBackend::Faer => true,
            EigenBackend::Lapack => cfg!(feature = "lapack"),
        }
    }

    /// `"faer"` or `"lapack"`.
    pub fn name(self) -> &'static str {
        match self {
            EigenBackend::Faer => "faer",
            EigenBackend::Lapack => "lapack",
        }
    }
}

impl fmt::Display for EigenBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EigenBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "faer" => Ok(EigenBackend::Faer),
            "lapack" => Ok(EigenBackend::Lapack),
            o => Err(format!(
                "unknown eigensolver '{o}' (expected 'faer' or 'lapack')"
            )),
        }
    }
}

/// All eigenvalues, ascending, of the symmetric `d × d` column-major matrix `a` (only the lower
/// triangle is read).
pub fn symmetric_eigenvalues(a: &[f64], d: usize, backend: EigenBackend) -> Result<Vec<f64>> {
    if a.len() != d * d {
        return Err(Error::Numerical {
            routine: "symmetric eigenvalues",
            message: format!("buffer of {} values is not {d} × {d}", a.len()),
        });
    }
    if d == 0 {
        return Ok(Vec::new());
    }
    let vals = match backend {
        EigenBackend::Faer => {
            let m = faer::MatRef::from_column_major_slice(a, d, d);
            m.self_adjoint_eigenvalues(faer::Side::Lower)
                .map_err(|e| Error::Numerical {
                    routine: "faer self-adjoint eigenvalues",
                    message: format!("{e:?}"),
                })?
        }
        EigenBackend::Lapack => lapack_eigenvalues(a, d)?,
    };
    if let Some(x) = vals.iter().find(|x| !x.is_finite()) {
        return Err(Error::Numerical {
            routine: "symmetric eigenvalues",
            message: format!("non-finite eigenvalue {x}"),
        });
    }
    Ok(vals)
}

#[cfg(feature = "lapack")]
fn lapack_eigenvalues(a: &[f64], d: usize) -> Result<Vec<f64>> {
    // nalgebra-lapack 0.28's SymmetricEigen::eigenvalues passes an invalid job code to dsyev
    // (BUILD.md); call dsyevd with JOBZ = 'N' directly.
    let _ = nalgebra_lapack::SymmetricEigen::<f64, nalgebra::Dyn>::new; // keep the crate linked
    let n = d as i32;
    let mut work_a = a.to_vec();
    let mut w = vec![0.0; d];
    let mut info = 0;
    let mut lwork_q = [0.0f64];
    let mut liwork_q = [0i32];
    unsafe {
        lapack::dsyevd(
            b'N',
            b'L',
            n,
            &mut work_a,
            n,
            &mut w,
            &mut lwork_q,
            -1,
            &mut liwork_q,
            -1,
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::Numerical {
            routine: "LAPACK dsyevd (workspace query)",
            message: format!("info = {info}"),
        });
    }
    let lwork = lwork_q[0] as i32;
    let liwork = liwork_q[0];
    let mut work = vec![0.0; lwork.max(1) as usize];
    let mut iwork = vec![0i32; liwork.max(1) as usize];
    unsafe {
        lapack::dsyevd(
            b'N',
            b'L',
            n,
            &mut work_a,
            n,
            &mut w,
            &mut work,
            lwork,
            &mut iwork,
            liwork,
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::Numerical {
            routine: "LAPACK dsyevd",
            message: format!("info = {info}"),
        });
    }
    Ok(w)
}

#[cfg(not(feature = "lapack"))]
fn lapack_eigenvalues(_a: &[f64], _d: usize) -> Result<Vec<f64>> {
    Err(Error::parameter(
        Param::Eigensolver,
        "lapack",
        "this build has no LAPACK; rebuild with `--features lapack` (needs libopenblas-dev)",
    ))
}

#[cfg(all(test, feature = "lapack"))]
mod lapack_tests {
    use super::*;

    #[test]
    fn lapack_and_faer_agree() {
        let d = 40;
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let v = ((i * 7 + j * 13) % 11) as f64 - 5.0 + if i == j { 3.0 } else { 0.0 };
                a[i + j * d] = v;
                a[j + i * d] = v;
            }
        }
        let f = symmetric_eigenvalues(&a, d, EigenBackend::Faer).unwrap();
        let l = symmetric_eigenvalues(&a, d, EigenBackend::Lapack).unwrap();
        for (x, y) in f.iter().zip(&l) {
            assert!((x - y).abs() < 1e-11, "{x} {y}");
        }
    }
}

/// Extreme eigenvalues and spectral radius of a symmetric matrix, with an error bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpectrumSummary {
    /// Smallest eigenvalue.
    pub lambda_min: f64,
    /// Largest eigenvalue.
    pub lambda_max: f64,
    /// `max(|λ_min|, |λ_max|)`: the spectral radius (= operator norm, the matrix is symmetric).
    pub radius: f64,
    /// Bound on the error of each computed eigenvalue (and so of the radius).
    pub error_bound: f64,
}

impl SpectrumSummary {
    /// From ascending eigenvalues and an error bound. An empty spectrum gives all zeros.
    pub fn from_sorted(vals: &[f64], error_bound: f64) -> Self {
        let lambda_min = vals.first().copied().unwrap_or(0.0);
        let lambda_max = vals.last().copied().unwrap_or(0.0);
        SpectrumSummary {
            lambda_min,
            lambda_max,
            radius: lambda_min.abs().max(lambda_max.abs()),
            error_bound,
        }
    }
}

/// Backward-error bound of a dense symmetric eigensolve: `D · u · ‖T‖_F` with `u = ε/2`
/// (Householder tridiagonalisation and its QR / divide-and-conquer are normwise backward stable
/// with a modest polynomial in `D`; `D` is a conservative choice). By Weyl's inequality every
/// computed eigenvalue is within this of an exact eigenvalue of the matrix that was passed in.
pub fn eigensolver_error_bound(d: usize, frobenius: f64) -> f64 {
    d as f64 * (f64::EPSILON / 2.0) * frobenius
}
