//! How far a GPU result may lie from the CPU reference: `|gpu − ref| ≤ atol + rtol·|ref|` on
//! every element of y, h_n and c_n, with `atol` and `rtol` derived from the model's size
//! ([`ErrorBound::for_model`]).
//!
//! The reference accumulates in f64, so the difference is the GPU's own f32 rounding. Each gate's
//! sum over K = I + P products (more on upper layers of a bidirectional stack) is rounded in some
//! order; with terms of random sign its error grows like √K times the unit roundoff u = 2⁻²⁴. The
//! cell carries it from step to step, damped by the forget gate, and each layer passes it to the
//! next, so the absolute part grows with √K and the depth L. Transcendentals (exp, log, and
//! tanh and sigmoid built from exp) are correctly rounded to a few ulps on the adapters measured,
//! and the cell sum adds a rounding per step, so the relative part is a modest multiple of u,
//! growing with √T. The constants below are the measured clean-run worst cases (docs/conformance.md:
//! Error model) with headroom, while a tanh 1000 ulps off (1.2·10⁻⁴ relative) exceeds the bound.

use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::{Dims, Output};
use crate::tensor::Tensor;

/// f32's unit roundoff, 2⁻²⁴.
pub const UNIT_ROUNDOFF: f32 = f32::EPSILON / 2.0;
/// `atol` in units of u·√K·L.
pub const ABSOLUTE_ROUNDOFFS: f32 = 3.0;
/// `rtol` in units of u·√T.
pub const RELATIVE_ROUNDOFFS: f32 = 12.0;

/// A gradient tensor's `atol` in units of u·√(n + G·H·T)·rms, where n is the terms each of its
/// elements sums and rms the root mean square of the reference tensor.
pub const GRADIENT_ABSOLUTE_ROUNDOFFS: f32 = 4.0;
/// A gradient's `rtol` in units of u·√T·L.
pub const GRADIENT_RELATIVE_ROUNDOFFS: f32 = 16.0;

/// An elementwise bound `|gpu − ref| ≤ atol + rtol·|ref|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorBound {
    pub atol: f32,
    pub rtol: f32,
}

impl ErrorBound {
    /// The bound for a forward of `config` at `dims` (see the module documentation).
    pub fn for_model(config: &LstmConfig, dims: Dims) -> ErrorBound {
        let k = (0..config.num_layers)
            .map(|l| config.layer_input_size(l) + config.output_size() + 2)
            .max()
            .unwrap_or(1) as f32;
        // A projection adds a sum over H per step.
        let k = k.max(config.proj_size.map_or(0.0, |_| config.hidden_size as f32));
        let depth = config.num_layers as f32;
        ErrorBound {
            atol: ABSOLUTE_ROUNDOFFS * UNIT_ROUNDOFF * k.sqrt() * depth,
            rtol: RELATIVE_ROUNDOFFS * UNIT_ROUNDOFF * (dims.seq_len.max(1) as f32).sqrt(),
        }
    }

    /// The bound for one gradient tensor of a backward of `config` at `dims`, whose elements are
    /// each a sum of `terms` products and whose reference values have root mean square `rms`.
    ///
    /// A sum of n f32 products of random sign is off by about u·√n times its own size, so the
    /// scale is the tensor's own: a small tensor (a bias, dh0) gets a small bound, never the
    /// largest tensor's. Each term carries the error of the gate gradients, which backpropagation
    /// accumulates over the T steps, each step a recurrent product over G·H: that adds G·H·T to
    /// n. The relative part is the forward's, √T, times the layers the error crosses.
    pub fn for_gradient(config: &LstmConfig, dims: Dims, terms: usize, rms: f32) -> ErrorBound {
        let recurrent = config.gates() * config.hidden_size * dims.seq_len.max(1);
        let spread = ((terms + recurrent) as f32).sqrt();
        ErrorBound {
            atol: GRADIENT_ABSOLUTE_ROUNDOFFS * UNIT_ROUNDOFF * spread * rms.max(f32::MIN_POSITIVE),
            rtol: GRADIENT_RELATIVE_ROUNDOFFS
                * UNIT_ROUNDOFF
                * (dims.seq_len.max(1) as f32).sqrt()
                * config.num_layers as f32,
        }
    }

    /// The largest difference allowed where the reference is `reference`.
    pub fn at(&self, reference: f32) -> f32 {
        self.atol + self.rtol * reference.abs()
    }
}

impl std::fmt::Display for ErrorBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1e} + {:.1e}·|ref|", self.atol, self.rtol)
    }
}

/// The element of one output furthest outside (or nearest to leaving) the bound.
#[derive(Clone, Debug, PartialEq)]
pub struct WorstElement {
    /// `y`, `h_n` or `c_n`.
    pub tensor: &'static str,
    /// Flat index into it.
    pub index: usize,
    pub got: f32,
    pub expected: f32,
}

/// A GPU output compared with the reference under a bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub bound: ErrorBound,
    /// The largest absolute difference over y, h_n and c_n (infinite where either is not finite
    /// and they differ).
    pub max_abs_error: f32,
    /// The largest `|gpu − ref| / (atol + rtol·|ref|)`: at most 1 passes, and its inverse is the
    /// headroom.
    pub worst_ratio: f32,
    /// Where `worst_ratio` was found.
    pub worst: Option<WorstElement>,
}

impl Comparison {
    /// Whether every element lies within the bound.
    pub fn passed(&self) -> bool {
        self.worst_ratio <= 1.0
    }
}

impl Output {
    /// Compare with `expected` (the reference) element by element under `bound`. NaN matches
    /// NaN and an infinity the same infinity; anything else non-finite is an unbounded error.
    pub fn compare(&self, expected: &Output, bound: ErrorBound) -> Result<Comparison> {
        let mut comparison = Comparison {
            bound,
            max_abs_error: 0.0,
            worst_ratio: 0.0,
            worst: None,
        };
        for (tensor, got, want) in [
            ("y", &self.y, &expected.y),
            ("h_n", &self.h_n, &expected.h_n),
            ("c_n", &self.c_n, &expected.c_n),
        ] {
            compare_tensor(tensor, got, want, &mut comparison)?;
        }
        Ok(comparison)
    }
}

impl Comparison {
    /// `got` against the reference `want` element by element under `bound` (as
    /// [`Output::compare`] does for each output), the worst element labelled `name`.
    pub fn of_tensor(
        name: &'static str,
        got: &Tensor,
        want: &Tensor,
        bound: ErrorBound,
    ) -> Result<Comparison> {
        let mut comparison = Comparison {
            bound,
            max_abs_error: 0.0,
            worst_ratio: 0.0,
            worst: None,
        };
        compare_tensor(name, got, want, &mut comparison)?;
        Ok(comparison)
    }
}

fn compare_tensor(name: &'static str, got: &Tensor, want: &Tensor, into: &mut Comparison) -> Result<()> {
    if got.shape() != want.shape() {
        return Err(Error::shape(name, want.shape(), got.shape()));
    }
    for (index, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        let same = g == w || (g.is_nan() && w.is_nan());
        let error = if same { 0.0 } else { (g - w).abs() };
        // NaN-safe: a NaN error (NaN against a number) is unbounded.
        let error = if error.is_nan() { f32::INFINITY } else { error };
        let allowed = into.bound.at(w);
        let ratio = if error == 0.0 {
            0.0
        } else if error.is_finite() && allowed.is_finite() {
            error / allowed
        } else {
            f32::INFINITY
        };
        into.max_abs_error = into.max_abs_error.max(error);
        if ratio > into.worst_ratio || (into.worst.is_none() && ratio >= into.worst_ratio) {
            into.worst_ratio = ratio;
            into.worst = Some(WorstElement {
                tensor: name,
                index,
                got: g,
                expected: w,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(values: [f32; 3]) -> Output {
        let t = |v: f32| Tensor::new(vec![1, 1, 1], vec![v]).unwrap();
        Output {
            y: t(values[0]),
            h_n: t(values[1]),
            c_n: t(values[2]),
        }
    }

    #[test]
    fn the_bound_scales_with_the_reference() {
        let bound = ErrorBound {
            atol: 1e-6,
            rtol: 1e-5,
        };
        let reference = output([0.0, 10.0, -100.0]);
        // 9e-7 at 0 (ratio 0.9), 9e-5 at 10 (0.89), 1.1e-3 at -100 (1.09: fails).
        let got = output([9e-7, 10.0 + 9e-5, -100.0 - 1.1e-3]);
        let c = got.compare(&reference, bound).unwrap();
        assert!(!c.passed());
        assert_eq!(c.worst.as_ref().unwrap().tensor, "c_n");
        assert!((c.worst_ratio - 1.09).abs() < 0.01, "{}", c.worst_ratio);
        let got = output([9e-7, 10.0 + 9e-5, -100.0]);
        let c = got.compare(&reference, bound).unwrap();
        assert!(c.passed(), "{c:?}");
        assert_eq!(c.worst.as_ref().unwrap().tensor, "y");
    }

    #[test]
    fn non_finite_values_match_only_themselves() {
        let bound = ErrorBound {
            atol: 1e-6,
            rtol: 1e-5,
        };
        let nan = output([f32::NAN, f32::INFINITY, 1.0]);
        assert!(nan.compare(&nan, bound).unwrap().passed());
        let c = output([0.0, f32::INFINITY, 1.0]).compare(&nan, bound).unwrap();
        assert!(!c.passed() && c.worst_ratio.is_infinite());
        let c = output([f32::NAN, f32::NEG_INFINITY, 1.0])
            .compare(&nan, bound)
            .unwrap();
        assert!(!c.passed());
    }

    #[test]
    fn shapes_must_match() {
        let a = output([0.0; 3]);
        let mut b = output([0.0; 3]);
        b.y = Tensor::new(vec![1, 1, 2], vec![0.0; 2]).unwrap();
        assert!(matches!(
            b.compare(&a, ErrorBound { atol: 0.0, rtol: 0.0 }),
            Err(Error::Shape { .. })
        ));
    }

    #[test]
    fn a_tanh_a_thousand_ulps_off_is_outside_the_bound_of_a_small_model() {
        let config = LstmConfig {
            input_size: 64,
            hidden_size: 64,
            ..LstmConfig::default()
        };
        let bound = ErrorBound::for_model(
            &config,
            Dims {
                seq_len: 20,
                batch: 1,
            },
        );
        // A value of 0.5 off by 1000 ulps of tanh (≈ 1.2e-4 relative).
        assert!(0.5 * 1.2e-4 > bound.at(0.5), "{bound}");
    }
}
