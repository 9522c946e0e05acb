//! A case run on the GPU as the streams of a [`StreamPool`] (`ConformCase::pooled`): each
//! sequence a stream in every other slot of a pool twice the batch (the slots between hold idle
//! streams), its initial state set, its whole sequence one chunk, the rows moved by the index
//! kernel (`shaders/pool_rows.wgsl`). Y and the final states are laid out as a forward gives
//! them, so the case's comparison checks the pool's gather and scatter too.

use super::run::Prepared;
use crate::backend::gpu::{Lstm, PoolGather, Variants};
use crate::error::Result;
use crate::forward::{state_shape, y_shape, Dims, Output, State};
use crate::pool::{StreamId, StreamPool};
use crate::tensor::Tensor;

impl Prepared {
    /// Each sequence's steps `[len_b, I]`, as the pool takes them.
    fn stream_chunks(&self) -> Result<Vec<Tensor>> {
        let (cfg, dims) = (&self.case.config, self.case.dims());
        let (t, b, i) = (dims.seq_len, dims.batch, cfg.input_size);
        let batch_major = cfg.layout.time_axis() == 1;
        (0..b)
            .map(|s| {
                let len = self.lens.as_ref().map_or(t, |l| l[s]);
                let mut data = Vec::with_capacity(len * i);
                for step in 0..len {
                    let row = if batch_major { s * t + step } else { step * b + s };
                    data.extend_from_slice(&self.input.data()[row * i..][..i]);
                }
                Tensor::new(vec![len, i], data)
            })
            .collect()
    }

    /// The pool with the case's streams opened (idle ones between them) and their ids.
    fn open_streams(&self, gpu: Lstm) -> Result<(StreamPool<Lstm>, Vec<StreamId>)> {
        gpu.set_pool_gather(PoolGather::Index);
        let b = self.case.batch;
        let mut pool = StreamPool::with_capacity(gpu, 2 * b)?;
        let mut ids = Vec::with_capacity(b);
        for s in 0..b {
            pool.open()?;
            let initial = match &self.initial {
                Some(state) => one_stream(state, s)?,
                None => State::zeros(&self.case.config, 1)?,
            };
            ids.push(pool.open_with(&initial)?);
        }
        Ok((pool, ids))
    }

    /// The streams' outputs and final states laid out as a forward's.
    fn pooled_output(&self, ys: &[Tensor], states: &[State]) -> Result<Output> {
        let (cfg, dims) = (&self.case.config, self.case.dims());
        let Dims { seq_len: t, batch: b } = dims;
        let p = cfg.output_size();
        let batch_major = cfg.layout.time_axis() == 1;
        let mut y = vec![0f32; t * b * p];
        for (s, ys) in ys.iter().enumerate() {
            for step in 0..ys.shape()[0] {
                let row = if batch_major { s * t + step } else { step * b + s };
                y[row * p..][..p].copy_from_slice(&ys.data()[step * p..][..p]);
            }
        }
        // h (0) or c (1) of every stream, `[L, B, width]`.
        let gather = |which: usize, width: usize| {
            let layers = cfg.num_layers;
            let mut data = vec![0f32; layers * b * width];
            for (s, state) in states.iter().enumerate() {
                let one = [&state.h, &state.c][which].data();
                for l in 0..layers {
                    data[(l * b + s) * width..][..width].copy_from_slice(&one[l * width..][..width]);
                }
            }
            Tensor::new(state_shape(cfg, b, width), data)
        };
        Ok(Output {
            y: Tensor::new(y_shape(cfg, dims), y)?,
            h_n: gather(0, p)?,
            c_n: gather(1, cfg.cell_state_size())?,
        })
    }

    /// Run as pooled streams, blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn run_pooled(&self, gpu: Lstm) -> Result<(Output, Variants)> {
        let chunks = self.stream_chunks()?;
        let (mut pool, ids) = self.open_streams(gpu)?;
        let request: Vec<(StreamId, &Tensor)> = ids.iter().copied().zip(&chunks).collect();
        let ys = pool.step(&request)?;
        let variants = pool.engine().last_stats().variants;
        let states = ids.iter().map(|&id| pool.state(id)).collect::<Result<Vec<_>>>()?;
        Ok((self.pooled_output(&ys, &states)?, variants))
    }

    /// [`Prepared::run_pooled`] as a future.
    pub(super) async fn run_pooled_async(&self, gpu: Lstm) -> Result<(Output, Variants)> {
        let chunks = self.stream_chunks()?;
        let (mut pool, ids) = self.open_streams(gpu)?;
        let request: Vec<(StreamId, &Tensor)> = ids.iter().copied().zip(&chunks).collect();
        let ys = pool.step_async(&request).await?;
        let variants = pool.engine().last_stats().variants;
        let mut states = Vec::with_capacity(ids.len());
        for &id in &ids {
            states.push(pool.state_async(id).await?);
        }
        Ok((self.pooled_output(&ys, &states)?, variants))
    }
}

/// Stream `s` of a batch's state, as a one-stream state.
fn one_stream(state: &State, s: usize) -> Result<State> {
    let pick = |t: &Tensor| {
        let [layers, batch, width] = [t.shape()[0], t.shape()[1], t.shape()[2]];
        let data = (0..layers)
            .flat_map(|l| t.data()[(l * batch + s) * width..][..width].to_vec())
            .collect();
        Tensor::new(vec![layers, 1, width], data)
    };
    Ok(State {
        h: pick(&state.h)?,
        c: pick(&state.c)?,
    })
}
