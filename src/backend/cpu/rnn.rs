//! The plain RNN's float64 step: the cell of the CPU reference, written from ONNX's `RNN`
//! operator.

use crate::config::LstmConfig;
use crate::weights::DirectionWeights;

/// One RNN step of one direction for one sequence: h' = f(W·x + R·h + Wb + Rb), clipped before
/// f; updates `h` (H values).
pub(super) fn step(cfg: &LstmConfig, d: usize, dw: &DirectionWeights, x: &[f32], h: &mut [f64]) {
    let hidden = cfg.hidden_size;
    let act = cfg.activations_of(d)[0];
    let clip = |z: f64| match cfg.clip {
        Some(limit) => z.clamp(-(limit as f64), limit as f64),
        None => z,
    };
    let dot = |w: &[f32], v: &[f64]| -> f64 { w.iter().zip(v).map(|(a, b)| *a as f64 * b).sum() };
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let next: Vec<f64> = (0..hidden)
        .map(|j| {
            let bias = dw
                .bias
                .as_ref()
                .map_or(0.0, |(bi, bh)| bi[j] as f64 + bh[j] as f64);
            let pre = dot(&dw.w_ih[j * x.len()..][..x.len()], &x64)
                + dot(&dw.w_hh[j * hidden..][..hidden], h)
                + bias;
            act.apply(clip(pre))
        })
        .collect();
    h.copy_from_slice(&next);
}
