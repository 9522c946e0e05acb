//! [`StreamPool`]: many independent streams of one unidirectional model, each with its own state,
//! served by batched steps over exactly the streams given.
//!
//! The pool keeps every stream's state in one state of its capacity (on the GPU for
//! [`Lstm`](crate::Lstm), on the host for [`CpuLstm`](crate::CpuLstm)). A step gathers the
//! states of the streams in it into a compact batch, runs one streaming forward over that batch
//! (each stream with its own chunk length, as `seq_lens`), and scatters the states back: its cost
//! follows the streams in it, not the capacity. On the GPU the gather and scatter are buffer
//! copies recorded around the forward's dispatches: a step is one submission and one readback. Streams open and close at any moment; a closed
//! slot is reused with a fresh state, and the capacity doubles, keeping every state, when every
//! slot is taken. A step that fails (an unknown or closed id, a chunk of the wrong width, an
//! engine error) changes no stream.

mod rows;

pub use rows::PoolEngine;

use std::collections::HashSet;
use std::fmt;

use crate::error::{Error, Result};
use crate::forward::State;
use crate::tensor::Tensor;

/// A stream of a [`StreamPool`]: its slot and the slot's generation, so that an id kept after
/// its stream closed never reaches the stream that reuses the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    slot: u32,
    generation: u32,
}

impl StreamId {
    /// The id as one number (for a language binding or a wire format).
    pub fn to_u64(self) -> u64 {
        (self.generation as u64) << 32 | self.slot as u64
    }

    /// The id that [`StreamId::to_u64`] gave.
    pub fn from_u64(v: u64) -> StreamId {
        StreamId {
            slot: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream {}", self.to_u64())
    }
}

/// Independent streams of one model, stepped together (see the module's documentation).
pub struct StreamPool<E: PoolEngine> {
    engine: E,
    /// Every slot's state, `capacity` streams wide.
    states: E::Stream,
    capacity: usize,
    /// Per slot: its generation (bumped when it closes) and whether a stream holds it.
    generations: Vec<u32>,
    open: Vec<bool>,
    /// Free slots, the lowest last (reused first).
    free: Vec<usize>,
}

impl<E: PoolEngine> StreamPool<E> {
    /// A pool over `engine`'s model with room for `capacity` streams before it grows. A
    /// bidirectional model cannot stream (its reverse direction needs the whole sequence) and is
    /// refused.
    pub fn with_capacity(engine: E, capacity: usize) -> Result<Self> {
        let config = engine.pool_config();
        if config.num_directions() > 1 {
            return Err(Error::invalid(
                "StreamPool",
                "a bidirectional model cannot stream: its reverse direction needs the whole sequence",
            ));
        }
        let capacity = capacity.max(1);
        let states = engine.pool_new(capacity)?;
        Ok(StreamPool {
            engine,
            states,
            capacity,
            generations: vec![0; capacity],
            open: vec![false; capacity],
            free: (0..capacity).rev().collect(),
        })
    }

    /// A pool with room for 64 streams before it grows.
    pub fn new(engine: E) -> Result<Self> {
        Self::with_capacity(engine, 64)
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Streams the pool holds before it grows.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Open streams.
    pub fn len(&self) -> usize {
        self.capacity - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Open a stream with a zero state.
    pub fn open(&mut self) -> Result<StreamId> {
        let zeros = State::zeros(self.engine.pool_config(), 1)?;
        self.open_with(&zeros)
    }

    /// Open a stream from `initial`: h `[L, 1, P]`, c `[L, 1, H]` (width 0 for a GRU or RNN).
    pub fn open_with(&mut self, initial: &State) -> Result<StreamId> {
        self.check_single(initial)?;
        if self.free.is_empty() {
            self.grow()?;
        }
        let slot = *self.free.last().expect("a grown pool has a free slot");
        self.engine.pool_write(&mut self.states, slot, initial)?;
        self.free.pop();
        self.open[slot] = true;
        Ok(StreamId {
            slot: slot as u32,
            generation: self.generations[slot],
        })
    }

    /// Close a stream: its id stops working and its slot is free for another stream, which
    /// starts from its own state.
    pub fn close(&mut self, id: StreamId) -> Result<()> {
        let slot = self.slot_of(id)?;
        self.open[slot] = false;
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        // Lowest slots first keeps the gathered rows of a busy pool contiguous.
        let at = self.free.partition_point(|&s| s > slot);
        self.free.insert(at, slot);
        Ok(())
    }

    /// Replace the stream's state with `state` (h `[L, 1, P]`, c `[L, 1, H]`).
    pub fn set_state(&mut self, id: StreamId, state: &State) -> Result<()> {
        let slot = self.slot_of(id)?;
        self.check_single(state)?;
        self.engine.pool_write(&mut self.states, slot, state)
    }

    /// Zero the stream's state.
    pub fn reset(&mut self, id: StreamId) -> Result<()> {
        let zeros = State::zeros(self.engine.pool_config(), 1)?;
        self.set_state(id, &zeros)
    }

    /// One batched step over exactly the streams given, each with its chunk `[T_i, input_size]`
    /// (T_i may differ, and may be 0, which leaves the stream as it is): returns each stream's
    /// outputs `[T_i, output_size]`, in the order given, and keeps each state for the next step.
    /// Every id and chunk is checked first: on any error no stream changes. (On the web:
    /// [`StreamPool::step_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step(&mut self, chunks: &[(StreamId, &Tensor)]) -> Result<Vec<Tensor>> {
        let Some(step) = self.prepare(chunks)? else {
            return self.empty_outputs(chunks.len());
        };
        let y = self
            .engine
            .pool_step(&step.x, &mut self.states, &step.slots, &step.lens)?;
        step.split(&y, self.engine.pool_config().output_size())
    }

    /// [`StreamPool::step`] as a future (see [`Lstm::forward_async`](crate::Lstm::forward_async)
    /// about polling on native).
    pub async fn step_async(&mut self, chunks: &[(StreamId, &Tensor)]) -> Result<Vec<Tensor>> {
        let Some(step) = self.prepare(chunks)? else {
            return self.empty_outputs(chunks.len());
        };
        let y = self
            .engine
            .pool_step_async(&step.x, &mut self.states, &step.slots, &step.lens)
            .await?;
        step.split(&y, self.engine.pool_config().output_size())
    }

    /// The outputs of a step with no timestep in it.
    fn empty_outputs(&self, n: usize) -> Result<Vec<Tensor>> {
        let out = self.engine.pool_config().output_size();
        (0..n).map(|_| Tensor::zeros(vec![0, out])).collect()
    }

    /// Check a step's ids and chunks and lay the chunks out as one batch; `None` when no chunk
    /// has a timestep.
    fn prepare(&self, chunks: &[(StreamId, &Tensor)]) -> Result<Option<Step>> {
        let config = self.engine.pool_config();
        let input = config.input_size;
        let mut seen = HashSet::with_capacity(chunks.len());
        let mut slots = Vec::with_capacity(chunks.len());
        let mut lens = Vec::with_capacity(chunks.len());
        for (id, chunk) in chunks {
            let slot = self.slot_of(*id)?;
            if !seen.insert(slot) {
                return Err(Error::invalid(id.to_string(), "appears twice in one step"));
            }
            match chunk.shape() {
                [t, i] if *i == input => lens.push(*t),
                other => return Err(Error::shape(format!("the chunk of {id}"), &[0, input], other)),
            }
            slots.push(slot);
        }
        let longest = lens.iter().copied().max().unwrap_or(0);
        if longest == 0 {
            return Ok(None);
        }
        let k = slots.len();
        // [T, k, I] or [k, T, I] as the model's layout reads it, padded with zeros.
        let batch_major = config.layout.time_axis() == 1;
        let mut x = vec![0.0f32; longest * k * input];
        for (b, ((_, chunk), &len)) in chunks.iter().zip(&lens).enumerate() {
            for t in 0..len {
                let at = if batch_major { b * longest + t } else { t * k + b };
                x[at * input..][..input].copy_from_slice(&chunk.data()[t * input..][..input]);
            }
        }
        let shape = if batch_major {
            vec![k, longest, input]
        } else {
            vec![longest, k, input]
        };
        Ok(Some(Step {
            x: Tensor::new(shape, x)?,
            slots,
            lens,
            longest,
            batch_major,
        }))
    }

    /// The stream's state, read back: h `[L, 1, P]`, c `[L, 1, H]`. (On the web:
    /// [`StreamPool::state_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn state(&self, id: StreamId) -> Result<State> {
        self.engine.pool_read(&self.states, self.slot_of(id)?)
    }

    /// [`StreamPool::state`] as a future.
    pub async fn state_async(&self, id: StreamId) -> Result<State> {
        self.engine.pool_read_async(&self.states, self.slot_of(id)?).await
    }

    /// The slot of an open stream, or an error naming the id.
    fn slot_of(&self, id: StreamId) -> Result<usize> {
        let slot = id.slot as usize;
        if slot >= self.capacity || !self.open[slot] || self.generations[slot] != id.generation {
            return Err(Error::invalid(
                id.to_string(),
                "is not an open stream of this pool (never opened, or closed)",
            ));
        }
        Ok(slot)
    }

    /// Check a one-stream state's shapes.
    fn check_single(&self, state: &State) -> Result<()> {
        let config = self.engine.pool_config();
        let layers = config.num_layers * config.num_directions();
        for (what, t, width) in [
            ("h", &state.h, config.output_size()),
            ("c", &state.c, config.cell_state_size()),
        ] {
            let expected = [layers, 1, width];
            if t.shape() != expected {
                return Err(Error::shape(format!("stream state {what}"), &expected, t.shape()));
            }
        }
        Ok(())
    }

    /// Double the capacity, keeping every state.
    fn grow(&mut self) -> Result<()> {
        let capacity = self.capacity.checked_mul(2).ok_or_else(|| Error::Overflow {
            what: "the stream pool".into(),
        })?;
        self.states = self.engine.pool_grow(&self.states, self.capacity, capacity)?;
        self.generations.resize(capacity, 0);
        self.open.resize(capacity, false);
        // The new slots, lowest last.
        let mut free: Vec<usize> = (self.capacity..capacity).rev().collect();
        free.append(&mut self.free);
        self.free = free;
        self.capacity = capacity;
        Ok(())
    }
}

/// A step's chunks as one batch, and where each stream's rows are.
struct Step {
    x: Tensor,
    slots: Vec<usize>,
    lens: Vec<usize>,
    longest: usize,
    batch_major: bool,
}

impl Step {
    /// Each stream's rows of the batch's outputs `y`: `[T_i, out]`.
    fn split(&self, y: &Tensor, out: usize) -> Result<Vec<Tensor>> {
        let (y, k) = (y.data(), self.slots.len());
        self.lens
            .iter()
            .enumerate()
            .map(|(b, &len)| {
                let mut rows = Vec::with_capacity(len * out);
                for t in 0..len {
                    let at = if self.batch_major {
                        b * self.longest + t
                    } else {
                        t * k + b
                    };
                    rows.extend_from_slice(&y[at * out..][..out]);
                }
                Tensor::new(vec![len, out], rows)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
