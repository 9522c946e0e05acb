//! How each engine steps a stream pool's states, rows of `[L][B][width]` state tensors: gathered
//! into a compact batch for a step and scattered back, on the host for the CPU reference, and on
//! the GPU by buffer copies in the forward's own submission (the states never leave it).

use crate::backend::cpu::CpuLstm;
use crate::config::LstmConfig;
use crate::error::Result;
use crate::forward::{row_runs, State};
use crate::tensor::Tensor;

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::backend::cpu::CpuLstm {}
    impl<T: Sealed> Sealed for std::sync::Arc<T> {}
    impl Sealed for crate::backend::gpu::Lstm {}
}

/// An engine a [`StreamPool`](super::StreamPool) can serve: [`CpuLstm`] and
/// [`Lstm`](crate::Lstm) (either behind an `Arc`). Implemented by this crate only; its methods
/// are the pool's internals.
pub trait PoolEngine: sealed::Sealed {
    /// The state of a batch of streams (GPU-resident for `Lstm`).
    type Stream;
    #[doc(hidden)]
    fn pool_config(&self) -> &LstmConfig;
    /// Zero states for `capacity` streams.
    #[doc(hidden)]
    fn pool_new(&self, capacity: usize) -> Result<Self::Stream>;
    /// The states of `old` (`from` streams) in a pool of `to` streams, the new ones zero.
    #[doc(hidden)]
    fn pool_grow(&self, old: &Self::Stream, from: usize, to: usize) -> Result<Self::Stream>;
    /// One stream's state (batch 1) into `slot`.
    #[doc(hidden)]
    fn pool_write(&self, pool: &mut Self::Stream, slot: usize, state: &State) -> Result<()>;
    /// The streaming forward of a chunk over rows `slots` of `pool` (stream b of `x` is row
    /// `slots[b]`, with `lens[b]` steps), blocking until its outputs are read back; on an error
    /// no row changes.
    #[cfg(not(target_arch = "wasm32"))]
    #[doc(hidden)]
    fn pool_step(
        &self,
        x: &Tensor,
        pool: &mut Self::Stream,
        slots: &[usize],
        lens: &[usize],
    ) -> Result<Tensor>;
    /// The state of row `slot` on the host (batch 1), blocking.
    #[cfg(not(target_arch = "wasm32"))]
    #[doc(hidden)]
    fn pool_read(&self, pool: &Self::Stream, slot: usize) -> Result<State>;
    /// [`PoolEngine::pool_step`] as a future (the web's form; see
    /// [`Lstm::forward_async`](crate::Lstm::forward_async) about polling).
    #[doc(hidden)]
    fn pool_step_async(
        &self,
        x: &Tensor,
        pool: &mut Self::Stream,
        slots: &[usize],
        lens: &[usize],
    ) -> impl std::future::Future<Output = Result<Tensor>>;
    /// [`PoolEngine::pool_read`] as a future.
    #[doc(hidden)]
    fn pool_read_async(
        &self,
        pool: &Self::Stream,
        slot: usize,
    ) -> impl std::future::Future<Output = Result<State>>;
}

/// An engine shared with its owner (a language binding keeps its model and a pool of it).
impl<T: PoolEngine> PoolEngine for std::sync::Arc<T> {
    type Stream = T::Stream;

    fn pool_config(&self) -> &LstmConfig {
        (**self).pool_config()
    }

    fn pool_new(&self, capacity: usize) -> Result<Self::Stream> {
        (**self).pool_new(capacity)
    }

    fn pool_grow(&self, old: &Self::Stream, from: usize, to: usize) -> Result<Self::Stream> {
        (**self).pool_grow(old, from, to)
    }

    fn pool_write(&self, pool: &mut Self::Stream, slot: usize, state: &State) -> Result<()> {
        (**self).pool_write(pool, slot, state)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_step(
        &self,
        x: &Tensor,
        pool: &mut Self::Stream,
        slots: &[usize],
        lens: &[usize],
    ) -> Result<Tensor> {
        (**self).pool_step(x, pool, slots, lens)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_read(&self, pool: &Self::Stream, slot: usize) -> Result<State> {
        (**self).pool_read(pool, slot)
    }

    async fn pool_step_async(
        &self,
        x: &Tensor,
        pool: &mut Self::Stream,
        slots: &[usize],
        lens: &[usize],
    ) -> Result<Tensor> {
        (**self).pool_step_async(x, pool, slots, lens).await
    }

    async fn pool_read_async(&self, pool: &Self::Stream, slot: usize) -> Result<State> {
        (**self).pool_read_async(pool, slot).await
    }
}

/// Copy rows of width `width` between `[layers][batch][width]` tensors' data.
fn copy_rows(
    src: &[f32],
    (src_batch, dst_batch): (usize, usize),
    dst: &mut [f32],
    layers: usize,
    width: usize,
    runs: &[(usize, usize, usize)],
) {
    for l in 0..layers {
        for &(from, to, n) in runs {
            let s = (l * src_batch + from) * width;
            let d = (l * dst_batch + to) * width;
            dst[d..d + n * width].copy_from_slice(&src[s..s + n * width]);
        }
    }
}

/// A host state's rows moved into another of `dst_batch` streams.
fn host_rows(src: &State, dst: &mut State, runs: &[(usize, usize, usize)]) -> Result<()> {
    for (s, d) in [(&src.h, &mut dst.h), (&src.c, &mut dst.c)] {
        let (layers, src_batch, width) = (s.shape()[0], s.shape()[1], s.shape()[2]);
        let dst_batch = d.shape()[1];
        let mut data = d.data().to_vec();
        copy_rows(s.data(), (src_batch, dst_batch), &mut data, layers, width, runs);
        *d = Tensor::new(d.shape().to_vec(), data)?;
    }
    Ok(())
}

/// A pool step on the host: the rows gathered into a compact state, run, and scattered back.
fn host_step(cpu: &CpuLstm, x: &Tensor, pool: &mut State, slots: &[usize], lens: &[usize]) -> Result<Tensor> {
    let mut compact = State::zeros(cpu.config(), slots.len())?;
    host_rows(pool, &mut compact, &row_runs(slots.iter().copied().zip(0..)))?;
    let y = cpu.forward_stream(x, &mut compact, Some(lens))?;
    host_rows(&compact, pool, &row_runs((0..).zip(slots.iter().copied())))?;
    Ok(y)
}

/// Row `slot` of a host pool state.
fn host_read(cpu: &CpuLstm, pool: &State, slot: usize) -> Result<State> {
    let mut one = State::zeros(cpu.config(), 1)?;
    host_rows(pool, &mut one, &[(slot, 0, 1)])?;
    Ok(one)
}

impl PoolEngine for CpuLstm {
    type Stream = State;

    fn pool_config(&self) -> &LstmConfig {
        self.config()
    }

    fn pool_new(&self, capacity: usize) -> Result<State> {
        State::zeros(self.config(), capacity)
    }

    fn pool_grow(&self, old: &State, from: usize, to: usize) -> Result<State> {
        let mut new = State::zeros(self.config(), to)?;
        host_rows(old, &mut new, &[(0, 0, from)])?;
        Ok(new)
    }

    fn pool_write(&self, pool: &mut State, slot: usize, state: &State) -> Result<()> {
        host_rows(state, pool, &[(0, slot, 1)])
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_step(&self, x: &Tensor, pool: &mut State, slots: &[usize], lens: &[usize]) -> Result<Tensor> {
        host_step(self, x, pool, slots, lens)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_read(&self, pool: &State, slot: usize) -> Result<State> {
        host_read(self, pool, slot)
    }

    async fn pool_step_async(
        &self,
        x: &Tensor,
        pool: &mut State,
        slots: &[usize],
        lens: &[usize],
    ) -> Result<Tensor> {
        host_step(self, x, pool, slots, lens)
    }

    async fn pool_read_async(&self, pool: &State, slot: usize) -> Result<State> {
        host_read(self, pool, slot)
    }
}

mod gpu {
    use super::PoolEngine;
    use crate::backend::gpu::scope::capture;
    use crate::backend::gpu::{Lstm, LstmState};
    use crate::config::LstmConfig;
    use crate::error::Result;
    use crate::forward::State;
    use crate::tensor::Tensor;

    const F32: u64 = 4;

    /// Record copies of rows between two states' buffers (`[L][B][width]` f32 each).
    fn copy_rows(
        encoder: &mut wgpu::CommandEncoder,
        (src, dst): (&LstmState, &LstmState),
        runs: &[(usize, usize, usize)],
    ) {
        let (layers, (sb, db)) = (src.shape.slots, (src.shape.batch, dst.shape.batch));
        for (s, d, width) in [
            (&src.h, &dst.h, src.shape.out),
            (&src.c, &dst.c, src.shape.hidden),
        ] {
            if width == 0 {
                continue;
            }
            for l in 0..layers {
                for &(from, to, n) in runs {
                    let row = width as u64 * F32;
                    encoder.copy_buffer_to_buffer(
                        s,
                        (l * sb + from) as u64 * row,
                        d,
                        (l * db + to) as u64 * row,
                        n as u64 * row,
                    );
                }
            }
        }
    }

    impl Lstm {
        /// Copy rows of `src` into `dst` in one submission.
        fn pool_copy(&self, src: &LstmState, dst: &LstmState, runs: &[(usize, usize, usize)]) -> Result<()> {
            capture(self.device(), "moving stream states", || {
                let mut encoder = self.device().create_command_encoder(&Default::default());
                copy_rows(&mut encoder, (src, dst), runs);
                self.queue().submit([encoder.finish()]);
            })
        }
    }

    impl PoolEngine for Lstm {
        type Stream = LstmState;

        fn pool_config(&self) -> &LstmConfig {
            self.config()
        }

        fn pool_new(&self, capacity: usize) -> Result<LstmState> {
            self.new_state(capacity)
        }

        fn pool_grow(&self, old: &LstmState, from: usize, to: usize) -> Result<LstmState> {
            let new = self.new_state(to)?;
            self.pool_copy(old, &new, &[(0, 0, from)])?;
            Ok(new)
        }

        fn pool_write(&self, pool: &mut LstmState, slot: usize, state: &State) -> Result<()> {
            let one = self.state_from(state)?;
            self.pool_copy(&one, pool, &[(0, slot, 1)])
        }

        #[cfg(not(target_arch = "wasm32"))]
        fn pool_step(
            &self,
            x: &Tensor,
            pool: &mut LstmState,
            slots: &[usize],
            lens: &[usize],
        ) -> Result<Tensor> {
            pollster::block_on(self.pool_stream(x, pool, slots, lens, true))
        }

        #[cfg(not(target_arch = "wasm32"))]
        fn pool_read(&self, pool: &LstmState, slot: usize) -> Result<State> {
            pollster::block_on(self.read_rows(pool, &[slot], true))
        }

        async fn pool_step_async(
            &self,
            x: &Tensor,
            pool: &mut LstmState,
            slots: &[usize],
            lens: &[usize],
        ) -> Result<Tensor> {
            self.pool_stream(x, pool, slots, lens, false).await
        }

        async fn pool_read_async(&self, pool: &LstmState, slot: usize) -> Result<State> {
            self.read_rows(pool, &[slot], false).await
        }
    }
}
