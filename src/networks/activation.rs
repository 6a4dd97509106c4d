//! Pointwise activation functions and their derivatives.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The activation `σ` applied after every hidden layer.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// `tanh z` (the default).
    #[default]
    Tanh,
    /// `max(z, 0)`; derivative taken as 0 at `z = 0`.
    Relu,
    /// `ln(1 + e^z)`, computed stably.
    Softplus,
    /// `z Φ(z)` with the standard normal CDF `Φ` (exact GELU, via `erf`).
    Gelu,
}

impl Activation {
    /// Every activation, default first.
    pub const ALL: [Activation; 4] = [
        Activation::Tanh,
        Activation::Relu,
        Activation::Softplus,
        Activation::Gelu,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
        }
    }

    /// `σ(z)`.
    pub fn value(self, z: f64) -> f64 {
        match self {
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(0.0),
            Activation::Softplus => {
                // ln(1 + e^z) = max(z, 0) + ln(1 + e^{-|z|})
                z.max(0.0) + (-z.abs()).exp().ln_1p()
            }
            Activation::Gelu => z * normal_cdf(z),
        }
    }

    /// `σ'(z)`.
    pub fn derivative(self, z: f64) -> f64 {
        match self {
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Softplus => logistic(z),
            Activation::Gelu => normal_cdf(z) + z * normal_pdf(z),
        }
    }

    /// Variance scale of the default initialisation: `2` for ReLU (He), `1` otherwise (LeCun).
    pub fn init_gain(self) -> f64 {
        match self {
            Activation::Relu => 2.0,
            _ => 1.0,
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!("unknown activation '{s}' (expected tanh, relu, softplus or gelu)")
            })
    }
}

/// `1 / (1 + e^{-z})`, stable for large `|z|`.
fn logistic(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `Φ(z) = (1 + erf(z/√2))/2`.
fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// `φ(z) = e^{-z²/2}/√(2π)`.
fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Complementary error function (libm's port of FreeBSD's `erfc`, accurate to about 1 ulp), so
/// GELU's value and derivative agree to rounding.
fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(a.name().parse::<Activation>().unwrap(), a);
        }
        assert!("sigmoid".parse::<Activation>().is_err());
    }

    #[test]
    fn reference_values() {
        // tanh(0.5) = 0.46211715726000974; softplus(0) = ln 2; softplus(-50) ≈ e^-50
        assert!((Activation::Tanh.value(0.5) - 0.462_117_157_260_009_74).abs() < 1e-15);
        assert!((Activation::Softplus.value(0.0) - std::f64::consts::LN_2).abs() < 1e-15);
        assert!((Activation::Softplus.value(-50.0) / (-50f64).exp() - 1.0).abs() < 1e-12);
        assert_eq!(Activation::Softplus.value(800.0), 800.0);
        assert_eq!(Activation::Relu.value(-1.0), 0.0);
        // Φ(1) = 0.8413447460685429 (tables)
        assert!((normal_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        assert!((normal_cdf(-1.0) - (1.0 - 0.841_344_746_068_542_9)).abs() < 1e-15);
        assert!((Activation::Gelu.value(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
    }

    #[test]
    fn derivatives_match_central_differences() {
        for a in Activation::ALL {
            for &z in &[-3.0, -0.7, 0.3, 1.9, 4.0] {
                let h = 1e-5;
                let fd = (a.value(z + h) - a.value(z - h)) / (2.0 * h);
                let tol = 1e-9;
                assert!(
                    (fd - a.derivative(z)).abs() < tol,
                    "{a} at {z}: {fd} vs {}",
                    a.derivative(z)
                );
            }
        }
    }
}
