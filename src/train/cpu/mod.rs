//! The float64 reference of training: a forward that keeps what its backward needs, and plain
//! backpropagation through time over it, one sequence, direction and step at a time. It works on
//! the flat weights of a [`ParamLayout`] in f64, so the tests can take central finite
//! differences of the same forward; it shares nothing with the GPU kernels.

pub(crate) mod fd;
mod gru;
mod lstm;

use super::{check_output_grads, check_trainable, lanes, Gradients, ParamLayout, Slot};
use crate::backend::cpu::CpuLstm;
use crate::cell::Cell;
use crate::config::LstmConfig;
use crate::error::Result;
use crate::forward::{check_request, state_shape, y_shape, Dims, Output, State};
use crate::tensor::Tensor;

/// What the CPU backward needs of a forward ([`CpuLstm::forward_train`]).
#[derive(Clone, Debug)]
pub struct CpuTape {
    dims: Dims,
    seq_lens: Option<Vec<usize>>,
    layers: Vec<LayerTape>,
}

/// One layer's record, rows in the layout's order (`Layout::row`), directions side by side.
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerTape {
    /// The layer's input `[rows, in]`.
    x: Vec<f64>,
    /// Gate pre-activations (peepholes included, before clip) `[rows, D, lanes·H]`, unit-major:
    /// the lanes of unit j side by side (the LSTM's i, f, g, o; the GRU's in `gru`; the RNN's one).
    z: Vec<f64>,
    /// c_t and c_{t−1} `[rows, D, H]` (zeros for cells without a cell state).
    c: Vec<f64>,
    c_prev: Vec<f64>,
    /// h_{t−1} `[rows, D, P]`.
    h_prev: Vec<f64>,
    /// o⊙h(c_t) `[rows, D, H]`, what the projection reads.
    m: Vec<f64>,
}

/// Sizes of a forward, as the loops need them.
#[derive(Clone, Copy)]
struct Shape {
    h: usize,
    p: usize,
    d: usize,
    rows: usize,
}

impl Shape {
    fn of(cfg: &LstmConfig, dims: Dims) -> Shape {
        Shape {
            h: cfg.hidden_size,
            p: cfg.output_size(),
            d: cfg.num_directions(),
            rows: dims.seq_len * dims.batch,
        }
    }
}

const MAX_GATES: usize = Cell::MAX_GATES;

/// Activation `which` (0 f, 1 g, 2 h) of direction d at `v` after the clip: (value, slope), the
/// slope 0 where the clip holds v.
fn activate(cfg: &LstmConfig, d: usize, which: usize, v: f64) -> (f64, f64) {
    let act = cfg.activations_of(d)[which];
    let (v, inside) = match cfg.clip {
        Some(limit) => (
            v.clamp(-(limit as f64), limit as f64),
            f64::from(v.abs() <= limit as f64),
        ),
        None => (v, 1.0),
    };
    (act.apply(v), act.derivative(v) * inside)
}

/// A step's gradients on the way back: dL/d(W·x + Wb) and dL/d(R·v + Rb) per row of W and R, v
/// being h_{t−1} or, for the rows of a GRU's candidate without `linear_before_reset`, `operand`
/// (r⊙h_{t−1}); and `direct`, the part of dL/dh_{t−1} that does not pass through R·h_{t−1}.
pub(super) struct StepGrads {
    dw: Vec<f64>,
    dr: Vec<f64>,
    direct: Vec<f64>,
    operand: Option<Vec<f64>>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The timestep that step `s` of direction `d` visits in a sequence of `len` steps.
fn time(cfg: &LstmConfig, d: usize, s: usize, len: usize) -> usize {
    if cfg.direction.is_reversed(d) {
        len - 1 - s
    } else {
        s
    }
}

/// The float64 forward over flat weights `params`: `(y, h_n, c_n)` as the engine shapes them, and
/// each layer's record.
pub(crate) fn forward64(
    cfg: &LstmConfig,
    layout: &ParamLayout,
    params: &[f64],
    x: &[f64],
    initial: Option<(&[f64], &[f64])>,
    dims: Dims,
    seq_lens: Option<&[usize]>,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<LayerTape>) {
    let sh = Shape::of(cfg, dims);
    let Shape { h, p, d: nd, rows } = sh;
    let (g, lanes) = (cfg.gates(), lanes(cfg.cell));
    let cs = cfg.cell_state_size();
    let batch = dims.batch;
    let states = cfg.num_layers * nd * batch;
    let (mut h_n, mut c_n) = (vec![0.0; states * p], vec![0.0; states * cs]);
    let mut input = x.to_vec();
    let mut tapes = Vec::new();
    for l in 0..cfg.num_layers {
        let inp = cfg.layer_input_size(l);
        let mut tape = LayerTape {
            x: input,
            z: vec![0.0; rows * nd * lanes * h],
            c: vec![0.0; rows * nd * h],
            c_prev: vec![0.0; rows * nd * h],
            h_prev: vec![0.0; rows * nd * p],
            m: vec![0.0; rows * nd * h],
        };
        let mut y = vec![0.0; rows * nd * p];
        for d in 0..nd {
            let slot = &layout.slots[l * nd + d];
            let w = |s: &Slot| &params[s.w_ih.clone()];
            let r = &params[slot.w_hh.clone()];
            for b in 0..batch {
                let state = (l * nd + d) * batch + b;
                let len = seq_lens.map_or(dims.seq_len, |s| s[b]);
                let mut hs: Vec<f64> = initial.map_or(vec![0.0; p], |(h0, _)| h0[state * p..][..p].to_vec());
                let mut cs_now: Vec<f64> = match initial {
                    Some((_, c0)) if cs > 0 => c0[state * cs..][..cs].to_vec(),
                    _ => vec![0.0; h],
                };
                for s in 0..len {
                    let t = time(cfg, d, s, len);
                    let row = cfg.layout.row(t, b, dims.seq_len, batch);
                    let xr = &tape.x[row * inp..][..inp];
                    let at = row * nd + d;
                    tape.h_prev[at * p..][..p].copy_from_slice(&hs);
                    tape.c_prev[at * h..][..h].copy_from_slice(&cs_now);
                    let m = if cfg.cell == Cell::Gru {
                        let (z, next) = gru::forward(cfg, d, params, slot, xr, &hs);
                        tape.z[at * lanes * h..][..lanes * h].copy_from_slice(&z);
                        next
                    } else {
                        let mut m = vec![0.0; h];
                        for j in 0..h {
                            let mut z = [0.0; MAX_GATES];
                            for (k, zk) in z.iter_mut().enumerate().take(g) {
                                let rr = k * h + j;
                                *zk = dot(&w(slot)[rr * inp..][..inp], xr) + dot(&r[rr * p..][..p], &hs);
                                if let (Some(bi), Some(bh)) = (&slot.b_ih, &slot.b_hh) {
                                    *zk += params[bi.start + rr] + params[bh.start + rr];
                                }
                            }
                            let unit = unit_forward(cfg, d, z, cs_now[j], peepholes(params, slot, h, j));
                            cs_now[j] = unit.c;
                            m[j] = unit.m;
                            tape.z[at * g * h..][k_range(g, j)].copy_from_slice(&unit.z[..g]);
                            tape.c[at * h + j] = unit.c;
                        }
                        m
                    };
                    tape.m[at * h..][..h].copy_from_slice(&m);
                    match &slot.w_hr {
                        Some(whr) => {
                            for (q, hq) in hs.iter_mut().enumerate() {
                                *hq = dot(&params[whr.start + q * h..][..h], &m);
                            }
                        }
                        None => hs.copy_from_slice(&m),
                    }
                    y[row * nd * p + d * p..][..p].copy_from_slice(&hs);
                }
                h_n[state * p..][..p].copy_from_slice(&hs);
                c_n[state * cs..][..cs].copy_from_slice(&cs_now[..cs]);
            }
        }
        tapes.push(tape);
        input = y;
    }
    (input, h_n, c_n, tapes)
}

/// Where unit j's `g` gate pre-activations sit in a (row, direction) block of the CPU tape.
fn k_range(g: usize, j: usize) -> std::ops::Range<usize> {
    g * j..g * j + g
}

/// Unit j's peephole weights (p_i, p_f, p_o), zero without peepholes.
fn peepholes(params: &[f64], slot: &Slot, h: usize, j: usize) -> [f64; 3] {
    let at = |k: usize| {
        slot.peephole
            .as_ref()
            .map_or(0.0, |r| params[r.start + k * h + j])
    };
    [at(0), at(1), at(2)]
}

/// A unit's step: its gates' pre-activations as the tape keeps them, its new c and m (what h
/// is, or what the projection reads).
struct UnitForward {
    z: [f64; MAX_GATES],
    c: f64,
    m: f64,
}

/// What a unit's step sends back: dL/dz of its gates, dL/dc_{t−1} and its peepholes' gradients.
struct UnitBackward {
    dz: [f64; MAX_GATES],
    dc_prev: f64,
    dpeep: [f64; 3],
}

/// The configuration's cell, forward: `z` holds W·x + R·h + biases of the unit's gates.
fn unit_forward(cfg: &LstmConfig, d: usize, z: [f64; MAX_GATES], c_prev: f64, peep: [f64; 3]) -> UnitForward {
    match cfg.cell {
        Cell::Lstm => lstm::forward(cfg, d, z, c_prev, peep),
        Cell::Rnn => UnitForward {
            z,
            c: 0.0,
            m: activate(cfg, d, 0, z[0]).0,
        },
        Cell::Gru => unreachable!("the GRU steps a whole layer at once (`gru::forward`)"),
    }
}

/// The configuration's cell, backward from dL/dm and the dL/dc carried from the step after.
#[allow(clippy::too_many_arguments)]
fn unit_backward(
    cfg: &LstmConfig,
    d: usize,
    z: [f64; MAX_GATES],
    (c, c_prev): (f64, f64),
    peep: [f64; 3],
    dm: f64,
    dc: f64,
) -> UnitBackward {
    match cfg.cell {
        Cell::Lstm => lstm::backward(cfg, d, z, (c, c_prev), peep, dm, dc),
        Cell::Rnn => {
            let mut dz = [0.0; MAX_GATES];
            dz[0] = dm * activate(cfg, d, 0, z[0]).1;
            UnitBackward {
                dz,
                dc_prev: 0.0,
                dpeep: [0.0; 3],
            }
        }
        Cell::Gru => unreachable!("the GRU steps a whole layer at once (`gru::backward`)"),
    }
}

/// Gradients of L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n: `(weights, dx, dh0, dc0)`, flat.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward64(
    cfg: &LstmConfig,
    layout: &ParamLayout,
    params: &[f64],
    tapes: &[LayerTape],
    dy: &[f64],
    dh_n: &[f64],
    dc_n: &[f64],
    dims: Dims,
    seq_lens: Option<&[usize]>,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let Shape { h, p, d: nd, rows } = Shape::of(cfg, dims);
    let (g, lanes) = (cfg.gates(), lanes(cfg.cell));
    let cs = cfg.cell_state_size();
    let batch = dims.batch;
    let states = cfg.num_layers * nd * batch;
    let mut grads = vec![0.0; layout.len];
    let (mut dh0, mut dc0) = (vec![0.0; states * p], vec![0.0; states * cs]);
    let mut dy_layer = dy.to_vec();
    for l in (0..cfg.num_layers).rev() {
        let tape = &tapes[l];
        let inp = cfg.layer_input_size(l);
        let mut dx = vec![0.0; rows * inp];
        for d in 0..nd {
            let slot = layout.slots[l * nd + d].clone();
            for b in 0..batch {
                let state = (l * nd + d) * batch + b;
                let len = seq_lens.map_or(dims.seq_len, |s| s[b]);
                let mut dh_carry = dh_n[state * p..][..p].to_vec();
                let mut dc_carry = vec![0.0; h];
                dc_carry[..cs].copy_from_slice(&dc_n[state * cs..][..cs]);
                for s in (0..len).rev() {
                    let t = time(cfg, d, s, len);
                    let row = cfg.layout.row(t, b, dims.seq_len, batch);
                    let at = row * nd + d;
                    let dh: Vec<f64> = (0..p)
                        .map(|q| dh_carry[q] + dy_layer[row * nd * p + d * p + q])
                        .collect();
                    let dm: Vec<f64> = match &slot.w_hr {
                        Some(whr) => {
                            for q in 0..p {
                                for j in 0..h {
                                    grads[whr.start + q * h + j] += dh[q] * tape.m[at * h + j];
                                }
                            }
                            (0..h)
                                .map(|j| (0..p).map(|q| params[whr.start + q * h + j] * dh[q]).sum())
                                .collect()
                        }
                        None => dh,
                    };
                    let hp = &tape.h_prev[at * p..][..p];
                    let step = if cfg.cell == Cell::Gru {
                        let z = &tape.z[at * lanes * h..][..lanes * h];
                        gru::backward(cfg, d, params, &slot, z, hp, &dm)
                    } else {
                        let mut dz_all = vec![0.0; g * h];
                        for j in 0..h {
                            let mut z = [0.0; MAX_GATES];
                            z[..g].copy_from_slice(&tape.z[at * g * h..][k_range(g, j)]);
                            let (c, c_prev) = (tape.c[at * h + j], tape.c_prev[at * h + j]);
                            let peep = peepholes(params, &slot, h, j);
                            let unit = unit_backward(cfg, d, z, (c, c_prev), peep, dm[j], dc_carry[j]);
                            dc_carry[j] = unit.dc_prev;
                            if let Some(r) = &slot.peephole {
                                for (k, dp) in unit.dpeep.iter().enumerate() {
                                    grads[r.start + k * h + j] += dp;
                                }
                            }
                            for k in 0..g {
                                dz_all[k * h + j] = unit.dz[k];
                            }
                        }
                        StepGrads {
                            dw: dz_all.clone(),
                            dr: dz_all,
                            direct: vec![0.0; p],
                            operand: None,
                        }
                    };
                    let xr = &tape.x[row * inp..][..inp];
                    // Rows from here on multiply `operand` rather than h_{t−1}.
                    let second = step.operand.as_ref().map_or(g * h, |_| 2 * h);
                    for rr in 0..g * h {
                        let (dw, dr) = (step.dw[rr], step.dr[rr]);
                        for (i, xv) in xr.iter().enumerate() {
                            grads[slot.w_ih.start + rr * inp + i] += dw * xv;
                            dx[row * inp + i] += dw * params[slot.w_ih.start + rr * inp + i];
                        }
                        let v = match &step.operand {
                            Some(o) if rr >= second => o.as_slice(),
                            _ => hp,
                        };
                        for (q, hv) in v.iter().enumerate() {
                            grads[slot.w_hh.start + rr * p + q] += dr * hv;
                        }
                        if let (Some(bi), Some(bh)) = (&slot.b_ih, &slot.b_hh) {
                            grads[bi.start + rr] += dw;
                            grads[bh.start + rr] += dr;
                        }
                    }
                    for (q, carry) in dh_carry.iter_mut().enumerate() {
                        *carry = step.direct[q]
                            + (0..second)
                                .map(|rr| params[slot.w_hh.start + rr * p + q] * step.dr[rr])
                                .sum::<f64>();
                    }
                }
                dh0[state * p..][..p].copy_from_slice(&dh_carry);
                dc0[state * cs..][..cs].copy_from_slice(&dc_carry[..cs]);
            }
        }
        dy_layer = dx;
    }
    (grads, dy_layer, dh0, dc0)
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn to32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn tensor(shape: Vec<usize>, v: &[f64]) -> Result<Tensor> {
    Tensor::new(shape, to32(v))
}

impl CpuLstm {
    /// A forward that also returns what [`CpuLstm::backward`] needs (everything in f64).
    /// Training refuses f16 weights ([`check_trainable`](crate::train::check_trainable)).
    pub fn forward_train(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<(Output, CpuTape)> {
        let cfg = self.config();
        check_trainable(cfg)?;
        let dims = check_request(cfg, input, initial, seq_lens)?;
        let layout = ParamLayout::new(cfg)?;
        let params = to64(&layout.flatten(self.weights()));
        let init = initial.map(|s| (to64(s.h.data()), to64(s.c.data())));
        let (y, h_n, c_n, layers) = forward64(
            cfg,
            &layout,
            &params,
            &to64(input.data()),
            init.as_ref().map(|(h, c)| (h.as_slice(), c.as_slice())),
            dims,
            seq_lens,
        );
        let out = Output {
            y: tensor(y_shape(cfg, dims), &y)?,
            h_n: tensor(state_shape(cfg, dims.batch, cfg.output_size()), &h_n)?,
            c_n: tensor(state_shape(cfg, dims.batch, cfg.cell_state_size()), &c_n)?,
        };
        let tape = CpuTape {
            dims,
            seq_lens: seq_lens.map(<[usize]>::to_vec),
            layers,
        };
        Ok((out, tape))
    }

    /// Backpropagation through time, in f64: the gradients of
    /// L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n (absent `dh_n`/`dc_n` are zero).
    pub fn backward(
        &self,
        tape: &CpuTape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<Gradients> {
        let cfg = self.config();
        let dims = tape.dims;
        check_output_grads(cfg, dims, dy, dh_n, dc_n)?;
        let layout = ParamLayout::new(cfg)?;
        let params = to64(&layout.flatten(self.weights()));
        let (hs, cs) = (
            state_shape(cfg, dims.batch, cfg.output_size()),
            state_shape(cfg, dims.batch, cfg.cell_state_size()),
        );
        let zeros = |shape: &[usize]| vec![0.0; shape.iter().product()];
        let (dh, dc) = (
            dh_n.map_or_else(|| zeros(&hs), |t| to64(t.data())),
            dc_n.map_or_else(|| zeros(&cs), |t| to64(t.data())),
        );
        let (grads, dx, dh0, dc0) = backward64(
            cfg,
            &layout,
            &params,
            &tape.layers,
            &to64(dy.data()),
            &dh,
            &dc,
            dims,
            tape.seq_lens.as_deref(),
        );
        Gradients::from_parts(
            &layout,
            cfg,
            dims,
            &to32(&grads),
            [to32(&dx), to32(&dh0), to32(&dc0)],
        )
    }
}
