//! The plan of a training forward and backward for one (T, B): every buffer's size and every
//! layer's offsets in the tape, with checked arithmetic.

use super::workspace::{f32_bytes, BufferSpec, TrainBuf};
use super::*;
use crate::backend::gpu::plan::Usage;
use crate::train::lanes;

/// Offsets (in f32s) of one layer's record in the tape.
#[derive(Clone, Copy, Debug)]
pub(super) struct LayerRecord {
    pub(super) input: usize,
    pub(super) y: usize,
    /// `[rows, D, lanes, H]`: each unit's lanes (`train::lanes`).
    pub(super) z: usize,
    /// `[rows, D, C]`, C the cell state's width (0 without one).
    pub(super) c: usize,
    pub(super) c_prev: usize,
    pub(super) h_prev: usize,
    /// `[rows, D, H]`: o⊙h(c_t) with a projection, r⊙h_{t−1} for a GRU without
    /// linear_before_reset (what R_n multiplies); absent otherwise.
    pub(super) m: usize,
}

/// A step of a pass's recording that copies `len` f32s of `buf` from `from` into the readback
/// buffer at `to`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Read {
    pub buf: TrainBuf,
    pub from: usize,
    pub to: usize,
    pub len: usize,
}

impl Read {
    fn at(buf: TrainBuf, from: usize, to: usize, len: usize) -> Read {
        Read { buf, from, to, len }
    }

    pub fn end(&self) -> usize {
        self.to + self.len
    }
}

/// Sizes and offsets of a forward's and backward's buffers for one (T, B), all checked.
#[derive(Clone, Debug)]
pub(super) struct TapePlan {
    pub(super) rows: usize,
    /// f32s of the top layer's y, and of dL/dx (the input at the tape's start).
    pub(super) y_len: usize,
    pub(super) dx_len: usize,
    pub(super) layers: Vec<LayerRecord>,
    pub(super) tape_len: usize,
    /// f32s of one region of the state buffer: L·D·B·P for h, L·D·B·H for c.
    pub(super) h_states: usize,
    pub(super) c_states: usize,
    pub(super) xp_len: usize,
    /// One layer's recurrent and projection weights transposed, per direction: Rᵀ `[P][G·H]`,
    /// then W_hrᵀ `[H][P]`.
    pub(super) packed_len: usize,
    /// Sequences per workgroup of the sequence kernels (1 below a batch of SEQ_GROUP), and their
    /// workgroups: D × groups.
    pub(super) group: usize,
    pub(super) sequence_groups: usize,
    /// The backward's work buffer: dgates, dh, the dc carry and the peephole sums.
    pub(super) work_dg: usize,
    pub(super) work_dh: usize,
    pub(super) work_dcarry: usize,
    pub(super) work_peep: usize,
    pub(super) work_len: usize,
    /// Each of the two buffers dL/dy passes through between layers.
    pub(super) dy_len: usize,
}

pub(super) fn checked(what: &str, factors: &[usize]) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |a, &f| a.checked_mul(f))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

fn checked_sum(what: &str, terms: &[usize]) -> Result<usize> {
    terms
        .iter()
        .try_fold(0usize, |a, &t| a.checked_add(t))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

pub(super) struct Offsets(pub(super) usize);

impl Offsets {
    pub(super) fn take(&mut self, n: usize) -> Result<usize> {
        let at = self.0;
        self.0 = at.checked_add(n).ok_or_else(|| Error::Overflow {
            what: "the training tape".into(),
        })?;
        Ok(at)
    }
}

impl TapePlan {
    pub(super) fn new(config: &LstmConfig, dims: Dims) -> Result<TapePlan> {
        let what = "the training tape";
        let (h, p, nd) = (config.hidden_size, config.output_size(), config.num_directions());
        let (g, lanes, cs) = (config.gates(), lanes(config.cell), config.cell_state_size());
        let rows = checked(what, &[dims.seq_len, dims.batch])?;
        let mut tape = Offsets(0);
        let x_len = checked(what, &[rows, config.input_size])?;
        let x0 = tape.take(x_len)?;
        let mut layers = Vec::new();
        let mut input = x0;
        for _ in 0..config.num_layers {
            let y = tape.take(checked(what, &[rows, nd, p])?)?;
            let z = tape.take(checked(what, &[rows, nd, lanes, h])?)?;
            let c = tape.take(checked(what, &[rows, nd, cs])?)?;
            let c_prev = tape.take(checked(what, &[rows, nd, cs])?)?;
            let h_prev = tape.take(checked(what, &[rows, nd, p])?)?;
            let m = if config.proj_size.is_some() || config.resets_before_product() {
                tape.take(checked(what, &[rows, nd, h])?)?
            } else {
                0
            };
            layers.push(LayerRecord {
                input,
                y,
                z,
                c,
                c_prev,
                h_prev,
                m,
            });
            input = y;
        }
        let slots = checked(what, &[config.num_layers, nd, dims.batch])?;
        let group = if dims.batch >= SEQ_GROUP { SEQ_GROUP } else { 1 };
        let mut work = Offsets(0);
        let work_dg = work.take(checked(what, &[rows, nd, lanes, h])?)?;
        let work_dh = work.take(checked(what, &[rows, nd, p])?)?;
        let work_dcarry = work.take(checked(what, &[nd, dims.batch, h])?)?;
        let work_peep = work.take(checked(what, &[nd, dims.batch, 3, h])?)?;
        Ok(TapePlan {
            rows,
            y_len: checked(what, &[rows, nd, p])?,
            dx_len: x_len,
            layers,
            tape_len: tape.0,
            h_states: checked(what, &[slots, p])?,
            c_states: checked(what, &[slots, cs])?,
            xp_len: checked(what, &[rows, nd, g, h])?,
            packed_len: checked(what, &[nd, p, g + 1, h])?,
            group,
            sequence_groups: checked(what, &[nd, dims.batch.div_ceil(group)])?,
            work_dg,
            work_dh,
            work_dcarry,
            work_peep,
            work_len: work.0,
            dy_len: checked(what, &[rows, config.input_size.max(nd * p)])?,
        })
    }

    /// Every buffer a forward and its backward use, with its size (`weights`: the trainable
    /// weights, whose gradients the backward sums). The readback buffer holds the larger of the
    /// forward's outputs (y, h_n, c_n) and the backward's (the gradients, dx, dh0, dc0).
    pub(super) fn buffers(&self, batch: usize, weights: usize) -> Result<Vec<BufferSpec>> {
        let what = "the training buffers";
        let (hs, cs) = (self.h_states, self.c_states);
        // The sums `states`, `forward_reads` and `backward_reads` take, checked once here.
        let state_len = checked_sum(what, &[hs, cs, hs, cs])?;
        let read = checked_sum(what, &[self.y_len, hs, cs])?
            .max(checked_sum(what, &[weights, self.dx_len, hs, cs])?);
        let f32s = [
            (TrainBuf::Tape, "training tape", self.tape_len),
            (TrainBuf::State, "training state", state_len),
            (TrainBuf::Xp, "training input projection", self.xp_len),
            (TrainBuf::Packed, "transposed weights", self.packed_len),
            (TrainBuf::Lens, "sequence lengths", batch),
            (TrainBuf::Grads, "gradients", weights),
            (TrainBuf::Dx, "dL/dy between layers", self.dy_len),
            (TrainBuf::Other, "dL/dy between layers", self.dy_len),
            (TrainBuf::DState, "state gradients", state_len),
            (TrainBuf::Work, "backward work", self.work_len),
            (TrainBuf::One, "one", 1),
            (TrainBuf::Staging, "training readback", read),
        ];
        f32s.into_iter()
            .map(|(buf, label, len)| {
                let bytes = f32_bytes(label, len)?;
                let usage = if buf == TrainBuf::Staging {
                    Usage::Staging
                } else {
                    Usage::Storage
                };
                Ok(BufferSpec {
                    buf,
                    label,
                    bytes,
                    usage,
                })
            })
            .collect()
    }

    /// What a forward reads back, in the readback buffer's order: the top layer's y, then h_n
    /// and c_n.
    pub(super) fn forward_reads(&self) -> [Read; 2] {
        let (states, _) = self.states();
        let top = self.layers.last().expect("at least one layer");
        let y = Read::at(TrainBuf::Tape, top.y, 0, self.y_len);
        [
            y,
            Read::at(TrainBuf::State, states[2], y.end(), self.h_states + self.c_states),
        ]
    }

    /// What a backward reads back: the gradients (`weights` of them), dx, then dh0 and dc0.
    pub(super) fn backward_reads(&self, weights: usize) -> [Read; 3] {
        let (states, _) = self.states();
        let grads = Read::at(TrainBuf::Grads, 0, 0, weights);
        let dx = Read::at(TrainBuf::Dx, 0, grads.end(), self.dx_len);
        [
            grads,
            dx,
            Read::at(
                TrainBuf::DState,
                states[2],
                dx.end(),
                self.h_states + self.c_states,
            ),
        ]
    }

    /// f32s a forward reads back.
    pub(super) fn forward_read_len(&self) -> usize {
        self.forward_reads().last().map_or(0, Read::end)
    }

    /// f32s a backward reads back.
    pub(super) fn backward_read_len(&self, weights: usize) -> usize {
        self.backward_reads(weights).last().map_or(0, Read::end)
    }

    /// What a forward zeroes before its kernels, as (buffer, offset, f32s): h0 and c0 without an
    /// initial state. (The kernels write every other value a pass reads, steps past a sequence's
    /// length included, so reused buffers need nothing else.)
    pub(super) fn forward_clears(&self, initial: bool) -> Vec<(TrainBuf, usize, usize)> {
        let (states, _) = self.states();
        if initial {
            Vec::new()
        } else {
            vec![(TrainBuf::State, 0, states[2])]
        }
    }

    /// What a backward zeroes before its kernels: dh_n or dc_n where the caller gave none.
    pub(super) fn backward_clears(&self, dh_n: bool, dc_n: bool) -> Vec<(TrainBuf, usize, usize)> {
        let mut clears = Vec::new();
        if !dh_n {
            clears.push((TrainBuf::DState, 0, self.h_states));
        }
        if !dc_n {
            clears.push((TrainBuf::DState, self.h_states, self.c_states));
        }
        clears
    }

    /// h0, c0, h_n, c_n (or their gradients): offsets in the state buffer, and its length.
    pub(super) fn states(&self) -> ([usize; 4], usize) {
        let (hs, cs) = (self.h_states, self.c_states);
        ([0, hs, hs + cs, 2 * hs + cs], 2 * (hs + cs))
    }
}
