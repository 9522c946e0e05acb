//! `LstmState`: the recurrent state (h and c of every layer and direction) in GPU buffers. It
//! persists across calls, so a sequence can be fed in chunks of any size, one step included.

use super::readback;
use super::scope::capture;
use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::{row_runs, State};
use crate::tensor::Tensor;

/// Sizes that make states of two configurations interchangeable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StateShape {
    /// L·D.
    pub slots: usize,
    pub batch: usize,
    /// P: size of h.
    pub out: usize,
    /// H: size of c (0 for cells without a cell state).
    pub hidden: usize,
}

impl StateShape {
    pub fn new(config: &LstmConfig, batch: usize) -> Self {
        StateShape {
            slots: config.num_layers * config.num_directions(),
            batch,
            out: config.output_size(),
            hidden: config.cell_state_size(),
        }
    }

    /// Bytes of h, `[L·D][B][P]` f32.
    pub fn h_bytes(&self) -> Result<u64> {
        bytes(&[self.slots, self.batch, self.out])
    }

    /// Bytes of c, `[L·D][B][H]` f32.
    pub fn c_bytes(&self) -> Result<u64> {
        bytes(&[self.slots, self.batch, self.hidden])
    }
}

fn bytes(shape: &[usize]) -> Result<u64> {
    shape
        .iter()
        .try_fold(4u64, |acc, &n| acc.checked_mul(n as u64))
        .ok_or_else(|| Error::Overflow {
            what: "the recurrent state".into(),
        })
}

/// h and c of every layer and direction for a batch of independent streams, resident on the GPU.
///
/// Layout (little-endian f32, as in PyTorch): `h_buffer()` is `[L·D][B][P]` and `c_buffer()` is
/// `[L·D][B][H]`, slot `layer·D + direction`; P = H without projection. Made by
/// [`Lstm::new_state`](super::Lstm::new_state); it starts at zero.
pub struct LstmState {
    pub(crate) h: wgpu::Buffer,
    pub(crate) c: wgpu::Buffer,
    pub(crate) shape: StateShape,
}

impl LstmState {
    /// Buffers of `h_bytes` and `c_bytes` (the shape's, already checked against the device).
    pub(crate) fn new(device: &wgpu::Device, shape: StateShape, h_bytes: u64, c_bytes: u64) -> Self {
        let buffer = |label, size: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        LstmState {
            h: buffer("lstm state h", h_bytes),
            c: buffer("lstm state c", c_bytes),
            shape,
        }
    }

    /// Number of independent streams (B).
    pub fn batch(&self) -> usize {
        self.shape.batch
    }

    /// `[L·D][B][P]` f32 hidden states (usage COPY_SRC | COPY_DST).
    pub fn h_buffer(&self) -> &wgpu::Buffer {
        &self.h
    }

    /// `[L·D][B][H]` f32 cell states (usage COPY_SRC | COPY_DST).
    pub fn c_buffer(&self) -> &wgpu::Buffer {
        &self.c
    }

    /// Zero every stream (takes effect before the queue's next submission).
    pub fn reset(&self, queue: &wgpu::Queue) {
        queue.write_buffer(&self.h, 0, &vec![0u8; self.h.size() as usize]);
        queue.write_buffer(&self.c, 0, &vec![0u8; self.c.size() as usize]);
    }

    /// Zero the chosen streams and leave the others (takes effect before the queue's next
    /// submission).
    pub fn reset_streams(&self, queue: &wgpu::Queue, streams: &[usize]) -> Result<()> {
        for (buffer, offset, len) in self.stream_ranges(streams)? {
            queue.write_buffer(buffer, offset, &vec![0u8; len as usize]);
        }
        Ok(())
    }

    /// Zero the chosen streams from inside the caller's command encoder.
    pub fn encode_reset_streams(&self, encoder: &mut wgpu::CommandEncoder, streams: &[usize]) -> Result<()> {
        for (buffer, offset, len) in self.stream_ranges(streams)? {
            encoder.clear_buffer(buffer, offset, Some(len));
        }
        Ok(())
    }

    /// Every (buffer, offset, length) holding the given streams' h and c.
    fn stream_ranges(&self, streams: &[usize]) -> Result<Vec<(&wgpu::Buffer, u64, u64)>> {
        let s = self.shape;
        if let Some(&bad) = streams.iter().find(|&&b| b >= s.batch) {
            return Err(Error::invalid(
                "reset_streams",
                format!("stream {bad} is outside 0..{}", s.batch),
            ));
        }
        let mut ranges = Vec::with_capacity(2 * s.slots * streams.len());
        for slot in 0..s.slots {
            for &b in streams {
                let (h_row, c_row) = ((s.out * 4) as u64, (s.hidden * 4) as u64);
                let row = (slot * s.batch + b) as u64;
                ranges.push((&self.h, row * h_row, h_row));
                ranges.push((&self.c, row * c_row, c_row));
            }
        }
        Ok(ranges)
    }

    /// Set from host data: `h` `[L·D, B, P]` and `c` `[L·D, B, H]` (takes effect before the
    /// queue's next submission).
    pub fn set(&self, queue: &wgpu::Queue, state: &State) -> Result<()> {
        let s = self.shape;
        for (what, t, width, buffer) in [
            ("h", &state.h, s.out, &self.h),
            ("c", &state.c, s.hidden, &self.c),
        ] {
            let expected = [s.slots, s.batch, width];
            if t.shape() != expected {
                return Err(Error::shape(format!("state {what}"), &expected, t.shape()));
            }
            queue.write_buffer(buffer, 0, bytemuck::cast_slice(t.data()));
        }
        Ok(())
    }
}

/// The state a forward reads and updates: a whole state of the forward's batch, or chosen rows of
/// a larger one (a stream pool's), moved by buffer copies in the forward's own command encoder.
#[derive(Clone, Copy)]
pub(crate) enum StateRows<'a> {
    Whole(&'a LstmState),
    /// Stream b of the forward is row `slots[b]` of `pool`.
    Rows {
        pool: &'a LstmState,
        slots: &'a [usize],
    },
}

impl StateRows<'_> {
    /// The state the rows belong to.
    pub fn state(&self) -> &LstmState {
        match *self {
            StateRows::Whole(state) | StateRows::Rows { pool: state, .. } => state,
        }
    }

    /// The rows' shape: the state's, with the batch of the rows.
    pub fn shape(&self) -> StateShape {
        match *self {
            StateRows::Whole(state) => state.shape,
            StateRows::Rows { pool, slots } => StateShape {
                batch: slots.len(),
                ..pool.shape
            },
        }
    }

    /// Record copies between the rows and a compact `[L·D][B][P]` h at `h_at` and `[L·D][B][H]`
    /// c at `c_at` of `buffer` (B the rows' batch): into the buffer, or (`back`) out of it.
    /// Returns the copies recorded.
    pub fn encode_copies(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        buffer: &wgpu::Buffer,
        (h_at, c_at): (u64, u64),
        back: bool,
    ) -> u32 {
        let mut copies = 0;
        let state = self.state();
        let shape = state.shape;
        let k = self.shape().batch;
        // A whole state is one run over every layer at once.
        let (layers, runs) = match *self {
            StateRows::Whole(_) => (1, vec![(0, 0, shape.slots * shape.batch)]),
            StateRows::Rows { slots, .. } => (shape.slots, row_runs(slots.iter().copied().zip(0..))),
        };
        for (rows, at, width) in [(&state.h, h_at, shape.out), (&state.c, c_at, shape.hidden)] {
            let row = width as u64 * 4;
            if row == 0 {
                continue;
            }
            for l in 0..layers {
                for &(from, to, n) in &runs {
                    let in_state = (l * shape.batch + from) as u64 * row;
                    let in_buffer = at + (l * k + to) as u64 * row;
                    let bytes = n as u64 * row;
                    match back {
                        false => encoder.copy_buffer_to_buffer(rows, in_state, buffer, in_buffer, bytes),
                        true => encoder.copy_buffer_to_buffer(buffer, in_buffer, rows, in_state, bytes),
                    }
                    copies += 1;
                }
            }
        }
        copies
    }

    /// Read back to the host (one submission and one map, on demand); with `wait`, this thread
    /// waits for the copy in `Device::poll`.
    pub async fn read(self, device: &wgpu::Device, queue: &wgpu::Queue, wait: bool) -> Result<State> {
        let shape = self.shape();
        let (h_bytes, c_bytes) = (shape.h_bytes()?, shape.c_bytes()?);
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("lstm state readback"),
            size: h_bytes + c_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let submission = capture(device, "reading the state", || {
            let mut encoder = device.create_command_encoder(&Default::default());
            self.encode_copies(&mut encoder, &staging, (0, h_bytes), false);
            queue.submit([encoder.finish()])
        })?;
        let data = readback::read(
            device,
            &staging,
            h_bytes + c_bytes,
            Some(submission).filter(|_| wait),
        )
        .await?;
        let (h, c) = data.split_at((h_bytes / 4) as usize);
        Ok(State {
            h: Tensor::new(vec![shape.slots, shape.batch, shape.out], h.to_vec())?,
            c: Tensor::new(vec![shape.slots, shape.batch, shape.hidden], c.to_vec())?,
        })
    }
}
