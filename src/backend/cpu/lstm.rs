//! The LSTM's float64 step (gates i, f, g, o): the cell of the CPU reference.

use crate::config::LstmConfig;
use crate::weights::DirectionWeights;

/// One LSTM step of one direction for one sequence: updates `h` (P values) and `c` (H values).
pub(super) fn step(
    cfg: &LstmConfig,
    d: usize,
    dw: &DirectionWeights,
    x: &[f32],
    h: &mut [f64],
    c: &mut [f64],
) {
    let hidden = cfg.hidden_size;
    let [act_f, act_g, act_h] = cfg.activations_of(d);
    let clip = |z: f64| match cfg.clip {
        Some(limit) => z.clamp(-(limit as f64), limit as f64),
        None => z,
    };
    let dot = |w: &[f32], v: &[f64]| -> f64 { w.iter().zip(v).map(|(a, b)| *a as f64 * b).sum() };
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    // z[g·H + j] for gate blocks i, f, g, o: W·x + R·h + b_ih + b_hh.
    let z: Vec<f64> = (0..cfg.gates() * hidden)
        .map(|r| {
            let bias = dw
                .bias
                .as_ref()
                .map_or(0.0, |(bi, bh)| bi[r] as f64 + bh[r] as f64);
            dot(&dw.w_ih[r * x.len()..][..x.len()], &x64) + dot(&dw.w_hh[r * h.len()..][..h.len()], h) + bias
        })
        .collect();
    let peep = |gate: usize, j: usize| dw.peephole.as_ref().map_or(0.0, |p| p[gate * hidden + j] as f64);
    let mut m = vec![0.0; hidden]; // o ⊙ h(c), before any projection
    for j in 0..hidden {
        let c_prev = c[j];
        let i = act_f.apply(clip(z[j] + peep(0, j) * c_prev));
        let f = if cfg.input_forget {
            1.0 - i
        } else {
            act_f.apply(clip(z[hidden + j] + peep(1, j) * c_prev))
        };
        let g = act_g.apply(clip(z[2 * hidden + j]));
        c[j] = f * c_prev + i * g;
        let o = act_f.apply(clip(z[3 * hidden + j] + peep(2, j) * c[j]));
        m[j] = o * act_h.apply(c[j]);
    }
    match &dw.w_hr {
        Some(w_hr) => {
            for (p, h_p) in h.iter_mut().enumerate() {
                *h_p = dot(&w_hr[p * hidden..][..hidden], &m);
            }
        }
        None => h.copy_from_slice(&m),
    }
}
