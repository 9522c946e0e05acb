//! The GRU's step for the float64 training reference, forward and backward, over the lanes the
//! GPU keeps per unit: z's and r's pre-activations, W_n·x + Wb_n, and the candidate's recurrent
//! part, R_n·h + Rb_n with `linear_before_reset` or R_n·(r⊙h) + Rb_n without. Written from ONNX's
//! `GRU`: n = g(W_n·x + Wb_n + r⊙(R_n·h + Rb_n)) or g(W_n·x + R_n·(r⊙h) + Wb_n + Rb_n), clip on
//! every activation's input, h' = (1 − z)⊙n + z⊙h.

use super::{activate, dot, Slot, StepGrads};
use crate::config::LstmConfig;

/// Lanes per unit in the tape.
pub(super) const LANES: usize = 4; // `train::lanes`

/// A unit's gates from its lanes: (value, slope) of z, r and n, and its new h.
struct Unit {
    z: (f64, f64),
    r: (f64, f64),
    n: (f64, f64),
    h: f64,
}

fn unit(cfg: &LstmConfig, d: usize, lanes: &[f64], h_prev: f64) -> Unit {
    let z = activate(cfg, d, 0, lanes[0]);
    let r = activate(cfg, d, 0, lanes[1]);
    let pre = if cfg.linear_before_reset {
        lanes[2] + r.0 * lanes[3]
    } else {
        lanes[2] + lanes[3]
    };
    let n = activate(cfg, d, 1, pre);
    Unit {
        z,
        r,
        n,
        h: (1.0 - z.0) * n.0 + z.0 * h_prev,
    }
}

fn bias(params: &[f64], b: &Option<std::ops::Range<usize>>, row: usize) -> f64 {
    b.as_ref().map_or(0.0, |b| params[b.start + row])
}

/// r⊙h_{t−1}: what R_n multiplies without `linear_before_reset`.
fn reset_input(cfg: &LstmConfig, d: usize, lanes: &[f64], h: &[f64]) -> Vec<f64> {
    (0..h.len())
        .map(|j| activate(cfg, d, 0, lanes[LANES * j + 1]).0 * h[j])
        .collect()
}

/// One step from input `x` and `h` = h_{t−1}: every unit's lanes (unit-major) and h_t.
pub(super) fn forward(
    cfg: &LstmConfig,
    d: usize,
    params: &[f64],
    slot: &Slot,
    x: &[f64],
    h: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let n = cfg.hidden_size;
    let inp = x.len();
    let input =
        |row: usize| dot(&params[slot.w_ih.start + row * inp..][..inp], x) + bias(params, &slot.b_ih, row);
    let recurrent = |row: usize, v: &[f64]| {
        dot(&params[slot.w_hh.start + row * n..][..n], v) + bias(params, &slot.b_hh, row)
    };
    let mut lanes = vec![0.0; LANES * n];
    for j in 0..n {
        lanes[LANES * j] = input(j) + recurrent(j, h);
        lanes[LANES * j + 1] = input(n + j) + recurrent(n + j, h);
        lanes[LANES * j + 2] = input(2 * n + j);
    }
    let reset = reset_input(cfg, d, &lanes, h);
    let operand = if cfg.linear_before_reset { h } else { &reset };
    for j in 0..n {
        lanes[LANES * j + 3] = recurrent(2 * n + j, operand);
    }
    let next = (0..n)
        .map(|j| unit(cfg, d, &lanes[LANES * j..][..LANES], h[j]).h)
        .collect();
    (lanes, next)
}

/// One step backward from its lanes, h_{t−1} and dL/dh_t.
pub(super) fn backward(
    cfg: &LstmConfig,
    d: usize,
    params: &[f64],
    slot: &Slot,
    lanes: &[f64],
    h: &[f64],
    dh: &[f64],
) -> StepGrads {
    let n = cfg.hidden_size;
    let lbr = cfg.linear_before_reset;
    let mut grads = StepGrads {
        dw: vec![0.0; 3 * n],
        dr: vec![0.0; 3 * n],
        direct: vec![0.0; n],
        operand: (!lbr).then(|| reset_input(cfg, d, lanes, h)),
    };
    for j in 0..n {
        let l = &lanes[LANES * j..][..LANES];
        let u = unit(cfg, d, l, h[j]);
        let dz = dh[j] * (h[j] - u.n.0) * u.z.1;
        let dpre = dh[j] * (1.0 - u.z.0) * u.n.1;
        grads.direct[j] = dh[j] * u.z.0;
        grads.dw[j] = dz;
        grads.dr[j] = dz;
        grads.dw[2 * n + j] = dpre;
        if lbr {
            // pre = a + r·(R_n·h + Rb_n)
            let dr = dpre * l[3] * u.r.1;
            grads.dw[n + j] = dr;
            grads.dr[n + j] = dr;
            grads.dr[2 * n + j] = dpre * u.r.0;
        } else {
            grads.dr[2 * n + j] = dpre;
        }
    }
    if !lbr {
        // R_n·(r⊙h): s = R_nᵀ·dpre reaches r⊙h, so r through h and h through r.
        for q in 0..n {
            let s: f64 = (0..n)
                .map(|j| params[slot.w_hh.start + (2 * n + j) * n + q] * grads.dr[2 * n + j])
                .sum();
            let r = activate(cfg, d, 0, lanes[LANES * q + 1]);
            let dr = s * h[q] * r.1;
            grads.dw[n + q] = dr;
            grads.dr[n + q] = dr;
            grads.direct[q] += s * r.0;
        }
    }
    grads
}
