//! `LstmState`: the recurrent state (h and c of every layer and direction) in GPU buffers. It
//! persists across calls, so a sequence can be fed in chunks of any size, one step included.

use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::State;

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
                // Storage: a stream pool's index kernel moves rows of it.
                usage: wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST
                    | wgpu::BufferUsages::STORAGE,
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

    /// `[L·D][B][P]` f32 hidden states (usage COPY_SRC | COPY_DST | STORAGE).
    pub fn h_buffer(&self) -> &wgpu::Buffer {
        &self.h
    }

    /// `[L·D][B][H]` f32 cell states (usage COPY_SRC | COPY_DST | STORAGE).
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
