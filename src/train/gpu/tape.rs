//! The plan of a training forward and backward for one (T, B): every buffer's size and every
//! layer's offsets in the tape, with checked arithmetic.

use super::*;

/// Offsets (in f32s) of one layer's record in the tape.
#[derive(Clone, Copy, Debug)]
pub(super) struct LayerRecord {
    pub(super) input: usize,
    pub(super) y: usize,
    pub(super) z: usize,
    pub(super) c: usize,
    pub(super) c_prev: usize,
    pub(super) h_prev: usize,
    pub(super) m: usize,
}

/// Sizes and offsets of a forward's and backward's buffers for one (T, B), all checked.
#[derive(Clone, Debug)]
pub(super) struct TapePlan {
    pub(super) rows: usize,
    pub(super) layers: Vec<LayerRecord>,
    pub(super) tape_len: usize,
    /// f32s of one region of the state buffer: L·D·B·P for h, L·D·B·H for c.
    pub(super) h_states: usize,
    pub(super) c_states: usize,
    pub(super) xp_len: usize,
    /// One layer's recurrent and projection weights transposed, per direction: Rᵀ `[P][4H]`,
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
        let rows = checked(what, &[dims.seq_len, dims.batch])?;
        let mut tape = Offsets(0);
        let x0 = tape.take(checked(what, &[rows, config.input_size])?)?;
        let mut layers = Vec::new();
        let mut input = x0;
        for _ in 0..config.num_layers {
            let y = tape.take(checked(what, &[rows, nd, p])?)?;
            let z = tape.take(checked(what, &[rows, nd, 4, h])?)?;
            let c = tape.take(checked(what, &[rows, nd, h])?)?;
            let c_prev = tape.take(checked(what, &[rows, nd, h])?)?;
            let h_prev = tape.take(checked(what, &[rows, nd, p])?)?;
            let m = if config.proj_size.is_some() {
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
        let work_dg = work.take(checked(what, &[rows, nd, 4, h])?)?;
        let work_dh = work.take(checked(what, &[rows, nd, p])?)?;
        let work_dcarry = work.take(checked(what, &[nd, dims.batch, h])?)?;
        let work_peep = work.take(checked(what, &[nd, dims.batch, 3, h])?)?;
        Ok(TapePlan {
            rows,
            layers,
            tape_len: tape.0,
            h_states: checked(what, &[slots, p])?,
            c_states: checked(what, &[slots, h])?,
            xp_len: checked(what, &[rows, nd, 4, h])?,
            packed_len: checked(what, &[nd, p, 5, h])?,
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

    /// The storage buffers a forward and its backward allocate, with their f32s (`weights`: the
    /// trainable weights, whose gradients the backward sums).
    pub(super) fn buffers(&self, batch: usize, weights: usize) -> [(&'static str, usize); 10] {
        let (_, state_len) = self.states();
        [
            ("training tape", self.tape_len),
            ("training state", state_len),
            ("training input projection", self.xp_len),
            ("transposed weights", self.packed_len),
            ("sequence lengths", batch),
            ("gradients", weights),
            ("dL/dy between layers", self.dy_len),
            ("state gradients", state_len),
            ("backward work", self.work_len),
            ("dL/dy between layers", self.dy_len),
        ]
    }

    /// Every buffer of [`TapePlan::buffers`] against the device's limits, before any is
    /// allocated: a shape too large for the device is refused before its forward starts.
    pub(super) fn check(&self, limits: &wgpu::Limits, batch: usize, weights: usize) -> Result<()> {
        for (what, len) in self.buffers(batch, weights) {
            checked_storage(limits, what, len)?;
        }
        Ok(())
    }

    /// h0, c0, h_n, c_n (or their gradients): offsets in the state buffer, and its length.
    pub(super) fn states(&self) -> ([usize; 4], usize) {
        let (hs, cs) = (self.h_states, self.c_states);
        ([0, hs, hs + cs, 2 * hs + cs], 2 * (hs + cs))
    }
}
