//! Gate activations of the ONNX LSTM operator (`activations`, `activation_alpha`,
//! `activation_beta`): the eleven functions, their parameters and defaults, and how a list of
//! names and values is read.

use std::fmt;

use crate::error::{Error, Result};

/// One of the ONNX RNN activation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivationKind {
    Sigmoid,
    Tanh,
    Relu,
    /// `alpha·x + beta`
    Affine,
    /// `x if x ≥ 0 else alpha·x`
    LeakyRelu,
    /// `x if x ≥ alpha else 0`
    ThresholdedRelu,
    /// `alpha·tanh(beta·x)`
    ScaledTanh,
    /// `min(max(alpha·x + beta, 0), 1)`
    HardSigmoid,
    /// `x if x ≥ 0 else alpha·(eˣ − 1)`
    Elu,
    /// `x / (1 + |x|)`
    Softsign,
    /// `log(1 + eˣ)`
    Softplus,
}

impl ActivationKind {
    /// Every kind; the index is the id the GPU kernels use.
    pub const ALL: [ActivationKind; 11] = [
        ActivationKind::Sigmoid,
        ActivationKind::Tanh,
        ActivationKind::Relu,
        ActivationKind::Affine,
        ActivationKind::LeakyRelu,
        ActivationKind::ThresholdedRelu,
        ActivationKind::ScaledTanh,
        ActivationKind::HardSigmoid,
        ActivationKind::Elu,
        ActivationKind::Softsign,
        ActivationKind::Softplus,
    ];

    /// ONNX spelling.
    pub fn name(self) -> &'static str {
        match self {
            ActivationKind::Sigmoid => "Sigmoid",
            ActivationKind::Tanh => "Tanh",
            ActivationKind::Relu => "Relu",
            ActivationKind::Affine => "Affine",
            ActivationKind::LeakyRelu => "LeakyRelu",
            ActivationKind::ThresholdedRelu => "ThresholdedRelu",
            ActivationKind::ScaledTanh => "ScaledTanh",
            ActivationKind::HardSigmoid => "HardSigmoid",
            ActivationKind::Elu => "Elu",
            ActivationKind::Softsign => "Softsign",
            ActivationKind::Softplus => "Softplus",
        }
    }

    /// Id shared with `shaders/shared/activations.wgsl`.
    pub(crate) fn id(self) -> u32 {
        ActivationKind::ALL.iter().position(|&k| k == self).unwrap() as u32
    }

    /// Parse an ONNX name (case-insensitive).
    pub fn parse(name: &str) -> Result<Self> {
        ActivationKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "activations",
                    format!(
                        "unknown activation '{name}'; expected one of {}",
                        ActivationKind::ALL.map(|k| k.name()).join(", ")
                    ),
                )
            })
    }

    /// Whether the function has an alpha parameter.
    pub fn takes_alpha(self) -> bool {
        use ActivationKind::*;
        matches!(
            self,
            Affine | LeakyRelu | ThresholdedRelu | ScaledTanh | HardSigmoid | Elu
        )
    }

    /// Whether the function has a beta parameter.
    pub fn takes_beta(self) -> bool {
        use ActivationKind::*;
        matches!(self, Affine | ScaledTanh | HardSigmoid)
    }

    /// ONNX's default alpha: that of the operator of the same name (LeakyRelu 0.01,
    /// ThresholdedRelu 1, HardSigmoid 0.2, Elu 1, Affine 1). ScaledTanh has none.
    pub fn default_alpha(self) -> Option<f32> {
        match self {
            ActivationKind::Affine => Some(1.0),
            ActivationKind::LeakyRelu => Some(0.01),
            ActivationKind::ThresholdedRelu => Some(1.0),
            ActivationKind::HardSigmoid => Some(0.2),
            ActivationKind::Elu => Some(1.0),
            _ => None,
        }
    }

    /// ONNX's default beta (HardSigmoid 0.5, Affine 0). ScaledTanh has none.
    pub fn default_beta(self) -> Option<f32> {
        match self {
            ActivationKind::Affine => Some(0.0),
            ActivationKind::HardSigmoid => Some(0.5),
            _ => None,
        }
    }
}

/// An activation function with its parameters (unused ones are 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Activation {
    pub kind: ActivationKind,
    pub alpha: f32,
    pub beta: f32,
}

impl Activation {
    /// A function with the given parameters, or ONNX's defaults where `None`. A parameter the
    /// function does not take, or a missing one that has no default (ScaledTanh), is an error.
    pub fn new(kind: ActivationKind, alpha: Option<f32>, beta: Option<f32>) -> Result<Self> {
        let param = |what: &str, takes: bool, given: Option<f32>, default: Option<f32>| -> Result<f32> {
            match (takes, given, default) {
                (false, Some(_), _) => Err(Error::invalid(
                    format!("activation {}", kind.name()),
                    format!("takes no {what}"),
                )),
                (false, None, _) => Ok(0.0),
                (true, Some(v), _) if !v.is_finite() => Err(Error::invalid(
                    format!("activation {}", kind.name()),
                    format!("{what} {v} is not finite"),
                )),
                (true, Some(v), _) => Ok(v),
                (true, None, Some(d)) => Ok(d),
                (true, None, None) => Err(Error::invalid(
                    format!("activation {}", kind.name()),
                    format!(
                        "needs an {what} value (ONNX defines no default); give one with --activation-{what}"
                    ),
                )),
            }
        };
        Ok(Activation {
            kind,
            alpha: param("alpha", kind.takes_alpha(), alpha, kind.default_alpha())?,
            beta: param("beta", kind.takes_beta(), beta, kind.default_beta())?,
        })
    }

    pub const SIGMOID: Activation = Activation {
        kind: ActivationKind::Sigmoid,
        alpha: 0.0,
        beta: 0.0,
    };
    pub const TANH: Activation = Activation {
        kind: ActivationKind::Tanh,
        alpha: 0.0,
        beta: 0.0,
    };

    /// The LSTM's default (f, g, h) = (Sigmoid, Tanh, Tanh).
    pub const DEFAULT: [Activation; 3] = [Activation::SIGMOID, Activation::TANH, Activation::TANH];

    /// The function, in f64, written to saturate without overflow.
    pub fn apply(&self, x: f64) -> f64 {
        let (a, b) = (self.alpha as f64, self.beta as f64);
        match self.kind {
            ActivationKind::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            ActivationKind::Tanh => x.tanh(),
            ActivationKind::Relu => x.max(0.0),
            ActivationKind::Affine => a * x + b,
            ActivationKind::LeakyRelu => {
                if x >= 0.0 {
                    x
                } else {
                    a * x
                }
            }
            ActivationKind::ThresholdedRelu => {
                if x >= a {
                    x
                } else {
                    0.0
                }
            }
            ActivationKind::ScaledTanh => a * (b * x).tanh(),
            ActivationKind::HardSigmoid => (a * x + b).clamp(0.0, 1.0),
            ActivationKind::Elu => {
                if x >= 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            ActivationKind::Softsign => x / (1.0 + x.abs()),
            ActivationKind::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        }
    }

    /// The derivative, in f64, taking the branch [`Activation::apply`] takes at kinks (the
    /// left one where it switches on `x ≥ …`): Relu and HardSigmoid have 0 at their corners,
    /// ThresholdedRelu 1 at alpha.
    pub fn derivative(&self, x: f64) -> f64 {
        let (a, b) = (self.alpha as f64, self.beta as f64);
        match self.kind {
            ActivationKind::Sigmoid => {
                let s = self.apply(x);
                s * (1.0 - s)
            }
            ActivationKind::Tanh => 1.0 - x.tanh().powi(2),
            ActivationKind::Relu => f64::from(x > 0.0),
            ActivationKind::Affine => a,
            ActivationKind::LeakyRelu => {
                if x >= 0.0 {
                    1.0
                } else {
                    a
                }
            }
            ActivationKind::ThresholdedRelu => f64::from(x >= a),
            ActivationKind::ScaledTanh => a * b * (1.0 - (b * x).tanh().powi(2)),
            ActivationKind::HardSigmoid => {
                let y = a * x + b;
                if y > 0.0 && y < 1.0 {
                    a
                } else {
                    0.0
                }
            }
            ActivationKind::Elu => {
                if x >= 0.0 {
                    1.0
                } else {
                    a * x.exp()
                }
            }
            ActivationKind::Softsign => 1.0 / (1.0 + x.abs()).powi(2),
            ActivationKind::Softplus => 1.0 / (1.0 + (-x).exp()),
        }
    }

    /// Read an LSTM's ONNX `activations` list ([`Activation::parse_list_for`] with three per
    /// direction).
    pub fn parse_list(
        names: &[String],
        alphas: &[f32],
        betas: &[f32],
        num_directions: usize,
    ) -> Result<Vec<Activation>> {
        Activation::parse_list_for(names, alphas, betas, num_directions, 3)
    }

    /// Read an ONNX `activations` list with its `activation_alpha` / `activation_beta` values.
    ///
    /// The list has `per_direction` functions per direction (the LSTM's f, g, h; the GRU's f, g;
    /// the RNN's f). Alphas and betas are consumed in
    /// list order by the functions that take them; functions left without a value use ONNX's
    /// defaults. Unknown names, a list of the wrong length and values that no function consumes
    /// are errors.
    pub fn parse_list_for(
        names: &[String],
        alphas: &[f32],
        betas: &[f32],
        num_directions: usize,
        per_direction: usize,
    ) -> Result<Vec<Activation>> {
        if names.len() != per_direction * num_directions {
            let roles = ["f", "f, g", "f, g, h"][per_direction.clamp(1, 3) - 1];
            return Err(Error::invalid(
                "activations",
                format!(
                    "{} given; a cell with {num_directions} direction(s) takes {} ({roles} per direction)",
                    names.len(),
                    per_direction * num_directions
                ),
            ));
        }
        let (mut alphas, mut betas) = (alphas.iter().copied(), betas.iter().copied());
        let list = names
            .iter()
            .map(|n| {
                let kind = ActivationKind::parse(n)?;
                let alpha = if kind.takes_alpha() { alphas.next() } else { None };
                let beta = if kind.takes_beta() { betas.next() } else { None };
                Activation::new(kind, alpha, beta)
            })
            .collect::<Result<Vec<_>>>()?;
        for (what, rest) in [
            ("activation_alpha", alphas.count()),
            ("activation_beta", betas.count()),
        ] {
            if rest > 0 {
                return Err(Error::invalid(
                    what,
                    format!("{rest} more value(s) than the activations consume"),
                ));
            }
        }
        Ok(list)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind.takes_alpha(), self.kind.takes_beta()) {
            (true, true) => write!(f, "{}({}, {})", self.kind.name(), self.alpha, self.beta),
            (true, false) => write!(f, "{}({})", self.kind.name(), self.alpha),
            _ => f.write_str(self.kind.name()),
        }
    }
}
