//! The LSTM's unit, forward and backward, for the float64 training reference: gates i, f, g, o
//! with the peepholes, clip and input_forget of ONNX.

use super::{UnitBackward, UnitForward, MAX_GATES};
use crate::config::LstmConfig;

/// Gate values recomputed from a step's record: (i, f, g, o, h(c)) and the derivative of each
/// gate with respect to its pre-activation (clip included), and of h at c.
struct Gates {
    act: [f64; 4],
    slope: [f64; 4],
    hc: f64,
    hc_slope: f64,
}

fn gates(cfg: &LstmConfig, d: usize, z: [f64; MAX_GATES], c: f64) -> Gates {
    let [act_f, act_g, act_h] = cfg.activations_of(d);
    let clip = |v: f64| match cfg.clip {
        Some(limit) => (
            v.clamp(-(limit as f64), limit as f64),
            f64::from(v.abs() <= limit as f64),
        ),
        None => (v, 1.0),
    };
    let mut act = [0.0; 4];
    let mut slope = [0.0; 4];
    for (k, f) in [act_f, act_f, act_g, act_f].iter().enumerate() {
        let (v, inside) = clip(z[k]);
        act[k] = f.apply(v);
        slope[k] = f.derivative(v) * inside;
    }
    if cfg.input_forget {
        act[1] = 1.0 - act[0];
        slope[1] = 0.0;
    }
    Gates {
        act,
        slope,
        hc: act_h.apply(c),
        hc_slope: act_h.derivative(c),
    }
}

/// One unit's step: the peepholes join i's and f's pre-activations with c_{t−1} and o's with c_t.
pub(super) fn forward(
    cfg: &LstmConfig,
    d: usize,
    mut z: [f64; MAX_GATES],
    c_prev: f64,
    peep: [f64; 3],
) -> UnitForward {
    z[0] += peep[0] * c_prev;
    z[1] += peep[1] * c_prev;
    // o's peephole sees the new c: compute it from i, f, g first.
    let pre = gates(cfg, d, z, 0.0);
    let c = pre.act[1] * c_prev + pre.act[0] * pre.act[2];
    z[3] += peep[2] * c;
    let g = gates(cfg, d, z, c);
    UnitForward {
        z,
        c,
        m: g.act[3] * g.hc,
    }
}

/// One unit's step backward, from its record (`z` with the peepholes, c_t, c_{t−1}).
pub(super) fn backward(
    cfg: &LstmConfig,
    d: usize,
    z: [f64; MAX_GATES],
    (c, c_prev): (f64, f64),
    peep: [f64; 3],
    dm: f64,
    dc_carry: f64,
) -> UnitBackward {
    let g = gates(cfg, d, z, c);
    let [i, f, gg, o] = g.act;
    let dz_o = dm * g.hc * g.slope[3];
    let dc = dc_carry + dm * o * g.hc_slope + dz_o * peep[2];
    let (mut di, df, dg) = (dc * gg, dc * c_prev, dc * i);
    if cfg.input_forget {
        di -= df; // f = 1 − i
    }
    let dz = [di * g.slope[0], df * g.slope[1], dg * g.slope[2], dz_o];
    UnitBackward {
        dz,
        dc_prev: dc * f + dz[0] * peep[0] + dz[1] * peep[1],
        dpeep: [dz[0] * c_prev, dz[1] * c_prev, dz[3] * c],
    }
}
