//! Optimizers: SGD with momentum and Adam, as PyTorch's `torch.optim.SGD` and `torch.optim.Adam`
//! define them, after clipping the gradients by their global norm
//! (`torch.nn.utils.clip_grad_norm_`). The GPU runs them on resident weights
//! ([`Trainer`](crate::gpu::Trainer)); [`Optimizer::step_host`] is the same arithmetic on the
//! host, for small parameter sets (a head on top of the LSTM) and as the tests' reference.

use crate::error::{Error, Result};

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerKind {
    /// v ← μ·v + g; w ← w − lr·v.
    Sgd { momentum: f32 },
    /// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; w ← w − lr·m̂/(√v̂ + ε), m̂ and v̂ bias-corrected.
    Adam { beta1: f32, beta2: f32, eps: f32 },
}

/// An optimizer's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub learning_rate: f32,
    /// Scale the gradients by `max_norm / ‖g‖` when their global L2 norm ‖g‖ exceeds it.
    pub clip_norm: Option<f32>,
}

/// The ε of `clip_grad_norm_`: the scale is `max_norm / (‖g‖ + 1e-6)`.
pub(crate) const CLIP_EPS: f32 = 1e-6;

impl Optimizer {
    /// Adam with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
    pub fn adam(learning_rate: f32) -> Self {
        Optimizer {
            kind: OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            learning_rate,
            clip_norm: None,
        }
    }

    /// SGD with momentum `momentum` (0 for plain SGD).
    pub fn sgd(learning_rate: f32, momentum: f32) -> Self {
        Optimizer {
            kind: OptimizerKind::Sgd { momentum },
            learning_rate,
            clip_norm: None,
        }
    }

    /// The same, clipping gradients to a global norm of `max_norm`.
    pub fn with_clip_norm(self, max_norm: f32) -> Self {
        Optimizer {
            clip_norm: Some(max_norm),
            ..self
        }
    }

    /// Refuse settings outside their domain.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f32, ok: bool| -> Result<()> {
            if ok && v.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("optimizer {what}"),
                    format!("{v} is out of range"),
                ))
            }
        };
        bad("learning rate", self.learning_rate, self.learning_rate > 0.0)?;
        if let Some(n) = self.clip_norm {
            bad("clip norm", n, n > 0.0)?;
        }
        match self.kind {
            OptimizerKind::Sgd { momentum } => bad("momentum", momentum, (0.0..1.0).contains(&momentum)),
            OptimizerKind::Adam { beta1, beta2, eps } => {
                bad("beta1", beta1, (0.0..1.0).contains(&beta1))?;
                bad("beta2", beta2, (0.0..1.0).contains(&beta2))?;
                bad("eps", eps, eps > 0.0)
            }
        }
    }

    /// f32s of optimizer state per weight: the momentum buffer for SGD, m and v for Adam.
    pub fn state_per_weight(&self) -> usize {
        match self.kind {
            OptimizerKind::Sgd { .. } => 1,
            OptimizerKind::Adam { .. } => 2,
        }
    }

    /// The factor clipping multiplies every gradient by, for gradients of squared norm `norm_sq`.
    pub fn clip_scale(&self, norm_sq: f64) -> f32 {
        match self.clip_norm {
            Some(max) => {
                let norm = norm_sq.sqrt() as f32;
                (max / (norm + CLIP_EPS)).min(1.0)
            }
            None => 1.0,
        }
    }

    /// One update of `weights` on the host, as the GPU does it: `state` holds
    /// [`Optimizer::state_per_weight`] arrays of `weights.len()` (zero at first) and `step` counts
    /// updates from 1.
    pub fn step_host(&self, step: u32, weights: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        let n = weights.len();
        if grads.len() != n || state.len() != n * self.state_per_weight() {
            return Err(Error::invalid(
                "optimizer step",
                format!(
                    "{} weights, {} gradients and {} state values do not match",
                    n,
                    grads.len(),
                    state.len()
                ),
            ));
        }
        let norm_sq: f64 = grads.iter().map(|&g| g as f64 * g as f64).sum();
        let scale = self.clip_scale(norm_sq);
        let lr = self.learning_rate;
        let (first, second) = state.split_at_mut(n);
        for i in 0..n {
            let g = grads[i] * scale;
            match self.kind {
                OptimizerKind::Sgd { momentum } => {
                    first[i] = momentum * first[i] + g;
                    weights[i] -= lr * first[i];
                }
                OptimizerKind::Adam { beta1, beta2, eps } => {
                    let (c1, c2) = bias_corrections(beta1, beta2, step);
                    first[i] = beta1 * first[i] + (1.0 - beta1) * g;
                    second[i] = beta2 * second[i] + (1.0 - beta2) * g * g;
                    weights[i] -= lr * (first[i] / c1) / ((second[i] / c2).sqrt() + eps);
                }
            }
        }
        Ok(())
    }
}

/// Adam's bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ at step t (from 1), computed in f64 as PyTorch
/// does (in f32, 1 − 0.999ᵗ cancels: at t = 2 it was off by 3·10⁻⁵ relative, which conformance's
/// float64 rule caught) and rounded once.
pub(crate) fn bias_corrections(beta1: f32, beta2: f32, step: u32) -> (f32, f32) {
    let t = step.max(1) as i32;
    let correction = |beta: f32| (1.0 - (beta as f64).powi(t)) as f32;
    (correction(beta1), correction(beta2))
}
