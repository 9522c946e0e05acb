//! The state rows a forward reads and updates ([`StateRows`]): a whole [`LstmState`] of the
//! forward's batch, or rows of a larger one (a stream pool's), and how they move between it and
//! the forward's working state: by buffer copies, one per run of consecutive rows per layer, or
//! (for a pool's scattered rows) by an index buffer and `shaders/pool_rows.wgsl` ([`IndexMoves`]:
//! one dispatch per state tensor each way). [`PoolGather`] chooses.

use std::sync::atomic::{AtomicU8, Ordering};

use super::grid;
use super::params::PoolRowsParams;
use super::pipelines::{bind_group, EngineKernels};
use super::plan::Resources;
use super::readback;
use super::scope::capture;
use super::shaders::{KernelRef, POOL_ROWS_WORKGROUP};
use super::state::{LstmState, StateShape};
use crate::error::Result;
use crate::forward::{row_runs, State};
use crate::tensor::Tensor;

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

/// How a stream pool's step on the GPU moves its streams' states between the pool's state and
/// the forward's working state ([`Lstm::set_pool_gather`](super::Lstm::set_pool_gather)). Both
/// ways record into the forward's own submission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolGather {
    /// Copies while the streams form at most [`PoolGather::AUTO_MAX_RUNS`] runs of consecutive
    /// slots, the index kernel beyond.
    #[default]
    Auto,
    /// Buffer copies: one per run of consecutive slots, layer and state tensor, each way.
    Copies,
    /// An index buffer of the slots and one dispatch per state tensor each way
    /// (`shaders/pool_rows.wgsl`); copies where the pool's state is too large to bind.
    Index,
}

impl PoolGather {
    /// Runs of consecutive slots up to which [`PoolGather::Auto`] copies.
    pub const AUTO_MAX_RUNS: usize = 8;

    /// Whether a step over rows `slots` takes the index kernel.
    pub(crate) fn indexes(self, slots: &[usize]) -> bool {
        match self {
            PoolGather::Auto => row_runs(slots.iter().copied().zip(0..)).len() > Self::AUTO_MAX_RUNS,
            PoolGather::Copies => false,
            PoolGather::Index => true,
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> PoolGather {
        match v {
            1 => PoolGather::Copies,
            2 => PoolGather::Index,
            _ => PoolGather::Auto,
        }
    }
}

/// A [`PoolGather`] an engine shares between threads.
#[derive(Debug, Default)]
pub(crate) struct GatherSetting(AtomicU8);

impl GatherSetting {
    pub fn get(&self) -> PoolGather {
        PoolGather::from_u8(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, gather: PoolGather) {
        self.0.store(gather.to_u8(), Ordering::Relaxed)
    }
}

/// The index kernel's moves of one step: per state tensor (h, then c where the cell has one) its
/// bind group and grid; parameter blocks in and out at `stride`.
pub(crate) struct IndexMoves {
    pipeline: wgpu::ComputePipeline,
    moves: Vec<(u64, wgpu::BindGroup, [u32; 3])>,
    stride: u64,
}

/// Where the index kernel's buffers are: the working state, the slots and the parameters.
pub(crate) struct IndexBuffers<'a> {
    pub work: &'a wgpu::Buffer,
    pub slots: &'a wgpu::Buffer,
    pub params: &'a wgpu::Buffer,
}

impl IndexMoves {
    /// The moves of rows `slots` of `pool` for a forward over `res`, the slots and parameters
    /// written through `queue` (they land before the next submission); `None` where the pool's
    /// state is too large to bind or its grid to dispatch, which leaves the copies.
    pub fn new(
        (device, queue): (&wgpu::Device, &wgpu::Queue),
        kernels: &EngineKernels,
        res: &Resources,
        buffers: IndexBuffers<'_>,
        (pool, slots): (&LstmState, &[usize]),
    ) -> Result<Option<IndexMoves>> {
        let limits = device.limits();
        let shape = pool.shape;
        let stride = res.rows_param_stride;
        let u32_of = |v: u64| u32::try_from(v).ok();
        let tensors = [
            (&pool.h, shape.out, 0, res.h_out_offset),
            (&pool.c, shape.hidden, res.c_offset, res.c_offset),
        ];
        let layout = kernels.layout(KernelRef::PoolRows);
        let mut params = vec![0u8; 4 * stride as usize];
        let mut moves = Vec::new();
        for (i, &(buffer, width, at_in, at_out)) in tensors.iter().enumerate() {
            if width == 0 {
                continue;
            }
            let floats = (shape.slots * slots.len() * width) as u64;
            let max = limits.max_compute_workgroups_per_dimension as u64;
            let grid = grid::fold_x([floats.div_ceil(POOL_ROWS_WORKGROUP as u64), 1, 1], max);
            let binding = limits.max_storage_buffer_binding_size;
            let fits =
                buffer.size() <= binding && buffers.work.size() <= binding && grid.iter().all(|&g| g <= max);
            let (Some(layers), Some(rows), Some(pool_batch), Some(width), Some(at_in), Some(at_out), true) = (
                u32_of(shape.slots as u64),
                u32_of(slots.len() as u64),
                u32_of(shape.batch as u64),
                u32_of(width as u64),
                u32_of(at_in / 4),
                u32_of(at_out / 4),
                fits,
            ) else {
                return Ok(None);
            };
            for (block, work_at, scatter) in [(i, at_in, 0), (2 + i, at_out, 1)] {
                let block_params = PoolRowsParams {
                    layers,
                    rows,
                    pool_batch,
                    width,
                    work_at,
                    scatter,
                    _pad: [0; 2],
                };
                params[block * stride as usize..][..std::mem::size_of::<PoolRowsParams>()]
                    .copy_from_slice(bytemuck::bytes_of(&block_params));
            }
            let group = bind_group(
                device,
                &layout,
                "pool rows",
                &[
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: buffers.params,
                        offset: 0,
                        size: std::num::NonZeroU64::new(std::mem::size_of::<PoolRowsParams>() as u64),
                    }),
                    buffers.slots.as_entire_binding(),
                    buffer.as_entire_binding(),
                    buffers.work.as_entire_binding(),
                ],
            );
            moves.push((i as u64, group, grid.map(|g| g as u32)));
        }
        let slot_ids: Vec<u32> = slots.iter().map(|&s| s as u32).collect();
        queue.write_buffer(buffers.slots, 0, bytemuck::cast_slice(&slot_ids));
        queue.write_buffer(buffers.params, 0, &params);
        Ok(Some(IndexMoves {
            pipeline: kernels.get(KernelRef::PoolRows)?,
            moves,
            stride,
        }))
    }

    /// Record the moves into the working state, or (`back`) out of it, in a compute pass of
    /// their own; returns the dispatches.
    fn encode(&self, encoder: &mut wgpu::CommandEncoder, back: bool) -> u32 {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("pool rows"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for (tensor, group, [x, y, z]) in &self.moves {
            let block = tensor + if back { 2 } else { 0 };
            pass.set_bind_group(0, group, &[(block * self.stride) as u32]);
            pass.dispatch_workgroups(*x, *y, *z);
        }
        self.moves.len() as u32
    }
}

/// How one forward moves its state rows: copies, or the index kernel's moves.
pub(crate) struct StateMoves<'a> {
    pub rows: StateRows<'a>,
    pub index: Option<IndexMoves>,
}

/// What a forward's state moves recorded.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Recorded {
    pub copies: u32,
    pub dispatches: u32,
}

impl StateMoves<'_> {
    /// Record the moves between the rows and the working state `work` (h at `h_at`, c at
    /// `c_at`): into it, or (`back`) out of it.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        work: &wgpu::Buffer,
        at: (u64, u64),
        back: bool,
    ) -> Recorded {
        match &self.index {
            Some(index) => Recorded {
                copies: 0,
                dispatches: index.encode(encoder, back),
            },
            None => Recorded {
                copies: self.rows.encode_copies(encoder, work, at, back),
                dispatches: 0,
            },
        }
    }
}
