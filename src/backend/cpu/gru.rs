//! The GRU's float64 step (gates z, r, n): the cell of the CPU reference, written from ONNX's
//! `GRU` operator.

use crate::config::LstmConfig;
use crate::weights::DirectionWeights;

/// One GRU step of one direction for one sequence: updates `h` (H values).
///
/// z = f(W_z·x + R_z·h + Wb_z + Rb_z), r = f(W_r·x + R_r·h + Wb_r + Rb_r);
/// n = g(W_n·x + Wb_n + r⊙(R_n·h + Rb_n)) with `linear_before_reset`,
/// n = g(W_n·x + R_n·(r⊙h) + Wb_n + Rb_n) without; h' = (1 − z)⊙n + z⊙h. Clip applies to every
/// activation's input.
pub(super) fn step(cfg: &LstmConfig, d: usize, dw: &DirectionWeights, x: &[f32], h: &mut [f64]) {
    let hidden = cfg.hidden_size;
    let [act_f, act_g, _] = cfg.activations_of(d);
    let clip = |z: f64| match cfg.clip {
        Some(limit) => z.clamp(-(limit as f64), limit as f64),
        None => z,
    };
    let dot = |w: &[f32], v: &[f64]| -> f64 { w.iter().zip(v).map(|(a, b)| *a as f64 * b).sum() };
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let bias = |row: usize| {
        dw.bias
            .as_ref()
            .map_or((0.0, 0.0), |(bi, bh)| (bi[row] as f64, bh[row] as f64))
    };
    // W·x + Wb and R·v + Rb of row `row`.
    let input = |row: usize| dot(&dw.w_ih[row * x.len()..][..x.len()], &x64) + bias(row).0;
    let recurrent = |row: usize, v: &[f64]| dot(&dw.w_hh[row * hidden..][..hidden], v) + bias(row).1;
    let z: Vec<f64> = (0..hidden)
        .map(|j| act_f.apply(clip(input(j) + recurrent(j, h))))
        .collect();
    let r: Vec<f64> = (0..hidden)
        .map(|j| act_f.apply(clip(input(hidden + j) + recurrent(hidden + j, h))))
        .collect();
    let reset: Vec<f64> = r.iter().zip(h.iter()).map(|(r, h)| r * h).collect();
    let n: Vec<f64> = (0..hidden)
        .map(|j| {
            let row = 2 * hidden + j;
            let pre = if cfg.linear_before_reset {
                input(row) + r[j] * recurrent(row, h)
            } else {
                input(row) + recurrent(row, &reset)
            };
            act_g.apply(clip(pre))
        })
        .collect();
    for j in 0..hidden {
        h[j] = (1.0 - z[j]) * n[j] + z[j] * h[j];
    }
}
