//! How each engine moves a stream pool's states: rows of `[L][B][width]` state tensors, gathered
//! into a compact batch for a step and scattered back, on the host for the CPU reference and by
//! buffer copies on the GPU (the states never leave it).

use crate::backend::cpu::CpuLstm;
use crate::config::LstmConfig;
use crate::error::Result;
use crate::forward::State;
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
    /// Stream i of `into` (a state of `slots.len()` streams) becomes slot `slots[i]` of `pool`.
    #[doc(hidden)]
    fn pool_gather(&self, pool: &Self::Stream, slots: &[usize], into: &mut Self::Stream) -> Result<()>;
    /// Stream i of `compact` back into slot `slots[i]` of `pool`.
    #[doc(hidden)]
    fn pool_scatter(&self, compact: &Self::Stream, pool: &mut Self::Stream, slots: &[usize]) -> Result<()>;
    /// One stream's state (batch 1) into `slot`.
    #[doc(hidden)]
    fn pool_write(&self, pool: &mut Self::Stream, slot: usize, state: &State) -> Result<()>;
    /// The streaming forward of a chunk, blocking until its outputs are read back.
    #[cfg(not(target_arch = "wasm32"))]
    #[doc(hidden)]
    fn pool_forward(&self, x: &Tensor, stream: &mut Self::Stream, lens: &[usize]) -> Result<Tensor>;
    /// The streams' state on the host, blocking.
    #[cfg(not(target_arch = "wasm32"))]
    #[doc(hidden)]
    fn pool_read(&self, stream: &Self::Stream) -> Result<State>;
    /// [`PoolEngine::pool_forward`] as a future (the web's form; see
    /// [`Lstm::forward_async`](crate::Lstm::forward_async) about polling).
    #[doc(hidden)]
    fn pool_forward_async(
        &self,
        x: &Tensor,
        stream: &mut Self::Stream,
        lens: &[usize],
    ) -> impl std::future::Future<Output = Result<Tensor>>;
    /// [`PoolEngine::pool_read`] as a future.
    #[doc(hidden)]
    fn pool_read_async(&self, stream: &Self::Stream) -> impl std::future::Future<Output = Result<State>>;
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

    fn pool_gather(&self, pool: &Self::Stream, slots: &[usize], into: &mut Self::Stream) -> Result<()> {
        (**self).pool_gather(pool, slots, into)
    }

    fn pool_scatter(&self, compact: &Self::Stream, pool: &mut Self::Stream, slots: &[usize]) -> Result<()> {
        (**self).pool_scatter(compact, pool, slots)
    }

    fn pool_write(&self, pool: &mut Self::Stream, slot: usize, state: &State) -> Result<()> {
        (**self).pool_write(pool, slot, state)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_forward(&self, x: &Tensor, stream: &mut Self::Stream, lens: &[usize]) -> Result<Tensor> {
        (**self).pool_forward(x, stream, lens)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_read(&self, stream: &Self::Stream) -> Result<State> {
        (**self).pool_read(stream)
    }

    async fn pool_forward_async(
        &self,
        x: &Tensor,
        stream: &mut Self::Stream,
        lens: &[usize],
    ) -> Result<Tensor> {
        (**self).pool_forward_async(x, stream, lens).await
    }

    async fn pool_read_async(&self, stream: &Self::Stream) -> Result<State> {
        (**self).pool_read_async(stream).await
    }
}

/// `(from, to)` row pairs of a gather (`slots[i]` → i) as runs of consecutive rows:
/// `(from, to, rows)`.
fn runs(pairs: impl Iterator<Item = (usize, usize)>) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (from, to) in pairs {
        match runs.last_mut() {
            Some((f, t, n)) if *f + *n == from && *t + *n == to => *n += 1,
            _ => runs.push((from, to, 1)),
        }
    }
    runs
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

    fn pool_gather(&self, pool: &State, slots: &[usize], into: &mut State) -> Result<()> {
        host_rows(pool, into, &runs(slots.iter().copied().zip(0..)))
    }

    fn pool_scatter(&self, compact: &State, pool: &mut State, slots: &[usize]) -> Result<()> {
        host_rows(compact, pool, &runs((0..).zip(slots.iter().copied())))
    }

    fn pool_write(&self, pool: &mut State, slot: usize, state: &State) -> Result<()> {
        host_rows(state, pool, &[(0, slot, 1)])
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_forward(&self, x: &Tensor, stream: &mut State, lens: &[usize]) -> Result<Tensor> {
        self.forward_stream(x, stream, Some(lens))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn pool_read(&self, stream: &State) -> Result<State> {
        Ok(stream.clone())
    }

    async fn pool_forward_async(&self, x: &Tensor, stream: &mut State, lens: &[usize]) -> Result<Tensor> {
        self.forward_stream(x, stream, Some(lens))
    }

    async fn pool_read_async(&self, stream: &State) -> Result<State> {
        Ok(stream.clone())
    }
}

mod gpu {
    use super::{runs, PoolEngine};
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

        fn pool_gather(&self, pool: &LstmState, slots: &[usize], into: &mut LstmState) -> Result<()> {
            self.pool_copy(pool, into, &runs(slots.iter().copied().zip(0..)))
        }

        fn pool_scatter(&self, compact: &LstmState, pool: &mut LstmState, slots: &[usize]) -> Result<()> {
            self.pool_copy(compact, pool, &runs((0..).zip(slots.iter().copied())))
        }

        fn pool_write(&self, pool: &mut LstmState, slot: usize, state: &State) -> Result<()> {
            let one = self.state_from(state)?;
            self.pool_copy(&one, pool, &[(0, slot, 1)])
        }

        #[cfg(not(target_arch = "wasm32"))]
        fn pool_forward(&self, x: &Tensor, stream: &mut LstmState, lens: &[usize]) -> Result<Tensor> {
            self.forward_stream(x, stream, Some(lens))
        }

        #[cfg(not(target_arch = "wasm32"))]
        fn pool_read(&self, stream: &LstmState) -> Result<State> {
            self.read_state(stream)
        }

        async fn pool_forward_async(
            &self,
            x: &Tensor,
            stream: &mut LstmState,
            lens: &[usize],
        ) -> Result<Tensor> {
            self.forward_stream_async(x, stream, Some(lens)).await
        }

        async fn pool_read_async(&self, stream: &LstmState) -> Result<State> {
            self.read_state_async(stream).await
        }
    }
}
