//! The float64 reference of training: a forward that keeps what its backward needs, and plain
//! backpropagation through time over it, one sequence, direction and step at a time. It works on
//! the flat weights of a [`ParamLayout`] in f64, so the tests can take central finite
//! differences of the same forward; it shares nothing with the GPU kernels.

pub(crate) mod fd;
mod lstm;

use super::{check_output_grads, check_trainable, Gradients, ParamLayout, Slot};
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
    /// Gate pre-activations (peepholes included, before clip) `[rows, D, G·H]`, unit-major: the
    /// G gates of unit j side by side (the LSTM's i, f, g, o).
    z: Vec<f64>,
    /// c_t and c_{t−1} `[rows, D, H]`.
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
    let g = cfg.gates();
    let batch = dims.batch;
    let states = cfg.num_layers * nd * batch;
    let (mut h_n, mut c_n) = (vec![0.0; states * p], vec![0.0; states * h]);
    let mut input = x.to_vec();
    let mut tapes = Vec::new();
    for l in 0..cfg.num_layers {
        let inp = cfg.layer_input_size(l);
        let mut tape = LayerTape {
            x: input,
            z: vec![0.0; rows * nd * g * h],
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
                let mut cs: Vec<f64> = initial.map_or(vec![0.0; h], |(_, c0)| c0[state * h..][..h].to_vec());
                for s in 0..len {
                    let t = time(cfg, d, s, len);
                    let row = cfg.layout.row(t, b, dims.seq_len, batch);
                    let xr = &tape.x[row * inp..][..inp];
                    let at = row * nd + d;
                    tape.h_prev[at * p..][..p].copy_from_slice(&hs);
                    tape.c_prev[at * h..][..h].copy_from_slice(&cs);
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
                        let unit = unit_forward(cfg, d, z, cs[j], peepholes(params, slot, h, j));
                        cs[j] = unit.c;
                        m[j] = unit.m;
                        tape.z[at * g * h..][k_range(g, j)].copy_from_slice(&unit.z[..g]);
                        tape.c[at * h + j] = unit.c;
                        tape.m[at * h + j] = unit.m;
                    }
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
                c_n[state * h..][..h].copy_from_slice(&cs);
            }
        }
        tapes.push(tape);
        input = y;
    }
    // Gate z of unit j sits at Gj..Gj+G in each (row, direction) block: see `k_range`.
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
        Cell::Gru | Cell::Rnn => unreachable!("check_trainable refuses cells without a training reference"),
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
        Cell::Gru | Cell::Rnn => unreachable!("check_trainable refuses cells without a training reference"),
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
    let g = cfg.gates();
    let batch = dims.batch;
    let states = cfg.num_layers * nd * batch;
    let mut grads = vec![0.0; layout.len];
    let (mut dh0, mut dc0) = (vec![0.0; states * p], vec![0.0; states * h]);
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
                let mut dc_carry = dc_n[state * h..][..h].to_vec();
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
                    let xr = &tape.x[row * inp..][..inp];
                    let hp = &tape.h_prev[at * p..][..p];
                    for (rr, &dz) in dz_all.iter().enumerate() {
                        for (i, xv) in xr.iter().enumerate() {
                            grads[slot.w_ih.start + rr * inp + i] += dz * xv;
                            dx[row * inp + i] += dz * params[slot.w_ih.start + rr * inp + i];
                        }
                        for (q, hv) in hp.iter().enumerate() {
                            grads[slot.w_hh.start + rr * p + q] += dz * hv;
                        }
                        if let (Some(bi), Some(bh)) = (&slot.b_ih, &slot.b_hh) {
                            grads[bi.start + rr] += dz;
                            grads[bh.start + rr] += dz;
                        }
                    }
                    for (q, carry) in dh_carry.iter_mut().enumerate() {
                        *carry = (0..g * h)
                            .map(|rr| params[slot.w_hh.start + rr * p + q] * dz_all[rr])
                            .sum();
                    }
                }
                dh0[state * p..][..p].copy_from_slice(&dh_carry);
                dc0[state * h..][..h].copy_from_slice(&dc_carry);
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
            c_n: tensor(state_shape(cfg, dims.batch, cfg.hidden_size), &c_n)?,
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
            state_shape(cfg, dims.batch, cfg.hidden_size),
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
