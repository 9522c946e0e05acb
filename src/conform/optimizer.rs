//! The GPU optimizers against PyTorch's update rules, written here in float64 from their
//! definitions (`torch.optim.SGD`, `torch.optim.Adam`, `torch.nn.utils.clip_grad_norm_`), not
//! from the host twin (`Optimizer::step_host`).

use super::*;
use crate::backend::gpu::TrainKernels;
use crate::error_model::{WorstElement, UNIT_ROUNDOFF};
use crate::train::{flatten, Optimizer, OptimizerKind};

/// An optimizer's result may differ from the float64 rule by this many f32 roundings of the
/// weight and of each step's update: each element's update is a handful of f32 operations.
pub const OPTIMIZER_ROUNDOFFS: f32 = 8.0;
/// Steps each check takes, so that the moments carry over.
pub const OPTIMIZER_STEPS: usize = 2;

/// The optimizers a default conformance run checks: SGD with momentum clipped to a norm that
/// binds, and Adam.
pub fn optimizer_cases() -> Vec<(&'static str, Optimizer)> {
    vec![
        (
            "sgd-momentum-clipped",
            Optimizer::sgd(0.1, 0.9).with_clip_norm(0.05),
        ),
        ("adam", Optimizer::adam(0.02)),
    ]
}

/// A GPU optimizer's weights after [`OPTIMIZER_STEPS`] steps against the float64 rule.
#[derive(Clone, Debug)]
pub struct OptimizerCheck {
    /// The training kernels the last step dispatched.
    pub kernels: TrainKernels,
    /// Under the bound `OPTIMIZER_ROUNDOFFS·u·(|w₀| + lr·Σ|update|)` per weight (reported as
    /// `atol = 0, rtol = 0` with the worst ratio).
    pub comparison: Comparison,
}

impl OptimizerCheck {
    pub fn passed(&self) -> bool {
        self.comparison.passed()
    }
}

/// One float64 step of `optimizer` (step `t` from 1) on `w` with gradients `g`; `m` and `v` hold
/// the momentum buffer (SGD) or the moments (Adam). Returns each weight's update size
/// (|Δw| / lr).
fn step64(optimizer: &Optimizer, t: i32, w: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) -> Vec<f64> {
    // clip_grad_norm_: g ← g · min(1, max_norm / (‖g‖₂ + 1e-6)).
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    let coef = optimizer
        .clip_norm
        .map_or(1.0, |max| (max as f64 / (norm + 1e-6)).min(1.0));
    let lr = optimizer.learning_rate as f64;
    let mut sizes = Vec::with_capacity(w.len());
    for i in 0..w.len() {
        let gi = g[i] * coef;
        let delta = match optimizer.kind {
            // buf ← μ·buf + g (buf = g at the first step); w ← w − lr·buf.
            OptimizerKind::Sgd { momentum } => {
                m[i] = if t == 1 { gi } else { momentum as f64 * m[i] + gi };
                m[i]
            }
            // m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; w ← w − lr·m̂/(√v̂ + ε).
            OptimizerKind::Adam { beta1, beta2, eps } => {
                let (b1, b2) = (beta1 as f64, beta2 as f64);
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                let m_hat = m[i] / (1.0 - b1.powi(t));
                let v_hat = v[i] / (1.0 - b2.powi(t));
                m_hat / (v_hat.sqrt() + eps as f64)
            }
        };
        w[i] -= lr * delta;
        sizes.push(delta.abs());
    }
    sizes
}

/// Train the first training stratum's model for [`OPTIMIZER_STEPS`] steps with `optimizer` on
/// the GPU, and compare its weights with the float64 rule applied to the same gradients (read
/// from the GPU's backward of each step's tape).
pub fn check_optimizer(
    cache: &PipelineCache,
    queue: &wgpu::Queue,
    optimizer: Optimizer,
    seed: u64,
) -> Result<OptimizerCheck> {
    let case = TrainCase::stratum(0, seed).prepare()?;
    let cfg = &case.case.config;
    let model = crate::gpu::TrainLstm::with_cache(cache, queue, cfg, &case.weights)?;
    let mut trainer = crate::gpu::Trainer::new(&model, optimizer)?;
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let w0 = f64s(&flatten(&case.weights));
    let mut w = w0.clone();
    let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
    let mut scale: Vec<f64> = w0.iter().map(|x| x.abs()).collect();
    for t in 1..=OPTIMIZER_STEPS {
        let (_, tape) = model.forward_train(&case.input, case.initial.as_ref(), case.lens.as_deref())?;
        let (dy, dh_n, dc_n) = (&case.dy, case.dh_n.as_ref(), case.dc_n.as_ref());
        let grads = model.backward(&tape, dy, dh_n, dc_n)?;
        trainer.step(&model, &tape, dy, dh_n, dc_n)?;
        let sizes = step64(
            &optimizer,
            t as i32,
            &mut w,
            &f64s(&flatten(&grads.weights)),
            &mut m,
            &mut v,
        );
        for (s, d) in scale.iter_mut().zip(sizes) {
            *s += optimizer.learning_rate as f64 * d;
        }
    }
    let got = flatten(&model.weights()?);
    let mut comparison = Comparison {
        bound: ErrorBound { atol: 0.0, rtol: 0.0 },
        max_abs_error: 0.0,
        worst_ratio: 0.0,
        worst: None,
    };
    for (index, ((&g, &want), &s)) in got.iter().zip(&w).zip(&scale).enumerate() {
        let error = (g as f64 - want).abs();
        let allowed = OPTIMIZER_ROUNDOFFS as f64 * UNIT_ROUNDOFF as f64 * s;
        let ratio = if error == 0.0 {
            0.0
        } else {
            (error / allowed) as f32
        };
        let ratio = if ratio.is_nan() { f32::INFINITY } else { ratio };
        comparison.max_abs_error = comparison.max_abs_error.max(error as f32);
        if ratio > comparison.worst_ratio || comparison.worst.is_none() {
            comparison.worst_ratio = comparison.worst_ratio.max(ratio);
            comparison.worst = Some(WorstElement {
                tensor: "weights",
                index,
                got: g,
                expected: want as f32,
            });
        }
    }
    Ok(OptimizerCheck {
        kernels: model.last_stats().kernels,
        comparison,
    })
}
