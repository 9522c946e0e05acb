//! The per-shape buffers and bind groups of a forward, allocated from its [`Resources`], and the
//! recording of a [`Plan`] over them: the caller's state copied in, every dispatch, the state
//! copied back.

use wgpu::util::DeviceExt;

use super::model::ModelWeights;
use super::pipelines::{bind_group, Pipelines, Resolved};
use super::plan::{Buf, Dispatch, Plan, Resource, Resources, Usage};
use super::rows::{Recorded, StateMoves};
use super::state::{LstmState, StateShape};
use crate::config::LstmConfig;

/// Buffers and bind groups for one (T, B); kept and reused while calls keep that shape.
pub(crate) struct Workspace {
    pub resources: Resources,
    /// In the order of `resources.buffers`.
    buffers: Vec<wgpu::Buffer>,
    /// In the order of `resources.groups`.
    groups: Vec<wgpu::BindGroup>,
    /// The state of one-shot forwards.
    pub own_state: LstmState,
    /// Start and end of the forward's compute pass, where the device has timestamp queries.
    queries: Option<wgpu::QuerySet>,
    layers: usize,
}

/// Dispatches recorded into one compute pass; a longer plan records several passes into the same
/// encoder. Lavapipe (Mesa 25.0) crashes executing a pass of about 65,100 dispatches or more
/// (a sequence of T ≈ 65,000 run step by step).
const MAX_DISPATCHES_PER_PASS: usize = 16_384;

impl Usage {
    /// The wgpu usage flags of a buffer used so.
    pub fn flags(self) -> wgpu::BufferUsages {
        match self {
            Usage::Storage => {
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
            }
            Usage::Uniform => wgpu::BufferUsages::UNIFORM,
            Usage::UniformWritten => wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            Usage::Copy => wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            Usage::Staging => wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            Usage::QueryResolve => wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        }
    }
}

/// Allocate one buffer a plan lists, zeroed (its size already checked against the device's
/// limits, `limits::buffer`). Every GPU job allocates through this: a forward's [`Workspace`] and
/// a training pass's buffers.
pub(crate) fn allocate(device: &wgpu::Device, label: &'static str, bytes: u64, usage: Usage) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: usage.flags(),
        mapped_at_creation: false,
    })
}

impl Workspace {
    /// Allocate what `resources` lists (already checked against the device's limits).
    pub fn new(
        device: &wgpu::Device,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        weights: &ModelWeights,
        resources: Resources,
    ) -> Workspace {
        let buffers: Vec<wgpu::Buffer> = resources
            .buffers
            .iter()
            .map(|spec| {
                if spec.usage == Usage::Uniform {
                    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(spec.label),
                        contents: &resources.uniform_contents(spec.buf),
                        usage: spec.usage.flags(),
                    })
                } else {
                    allocate(device, spec.label, spec.bytes, spec.usage)
                }
            })
            .collect();
        let buffer = |buf: Buf| {
            &buffers[resources
                .buffers
                .iter()
                .position(|s| s.buf == buf)
                .expect("listed")]
        };
        let groups = resources
            .groups
            .iter()
            .map(|group| {
                let entries: Vec<wgpu::BindingResource> = group
                    .entries
                    .iter()
                    .map(|entry| match *entry {
                        Resource::Buffer { buf, offset, size } => {
                            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: buffer(buf),
                                offset,
                                size: size.and_then(std::num::NonZeroU64::new),
                            })
                        }
                        Resource::Weight(id) => weights.buffer(id).as_entire_binding(),
                    })
                    .collect();
                bind_group(device, &pipelines.layout(group.kernel), group.label, &entries)
            })
            .collect();
        let own_state = LstmState {
            h: buffer(Buf::StateH).clone(),
            c: buffer(Buf::StateC).clone(),
            shape: StateShape::new(cfg, resources.dims.batch),
        };
        let queries = resources.timestamps_at.map(|_| {
            device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("forward timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            })
        });
        Workspace {
            buffers,
            groups,
            own_state,
            queries,
            layers: cfg.num_layers,
            resources,
        }
    }

    pub fn buffer(&self, buf: Buf) -> &wgpu::Buffer {
        let index = self
            .resources
            .buffers
            .iter()
            .position(|s| s.buf == buf)
            .expect("the plan lists every buffer it uses");
        &self.buffers[index]
    }

    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Per-sequence lengths (`None`: all T) as the kernels read them.
    pub fn lengths(&self, seq_lens: Option<&[usize]>) -> Vec<u32> {
        let dims = self.resources.dims;
        match seq_lens {
            Some(l) => l.iter().map(|&v| v as u32).collect(),
            None => vec![dims.seq_len as u32; dims.batch],
        }
    }

    /// Write the lengths from inside `encoder` (through a small upload buffer), so they land in
    /// command order rather than before the queue's next submission.
    pub fn encode_lengths(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        seq_lens: Option<&[usize]>,
    ) {
        let upload = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("seq_lens upload"),
            contents: bytemuck::cast_slice(&self.lengths(seq_lens)),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
        encoder.copy_buffer_to_buffer(&upload, 0, self.buffer(Buf::Lens), 0, upload.size());
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>, d: &Dispatch, pipeline: &wgpu::ComputePipeline) {
        let offsets: &[u32] = match d.offset {
            Some(offset) => &[offset as u32],
            None => &[],
        };
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &self.groups[d.group], offsets);
        let [x, y, z] = d.grid.map(|g| g as u32);
        pass.dispatch_workgroups(x, y, z);
    }

    /// `repeats` copies of one dispatch, on whatever the buffers hold (for timing).
    pub fn dispatch_repeated(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        dispatch: &Dispatch,
        pipeline: &wgpu::ComputePipeline,
        repeats: usize,
    ) {
        for _ in 0..repeats {
            self.dispatch(pass, dispatch, pipeline);
        }
    }

    /// The whole plan: `state` is copied into the working state, every dispatch runs, and the
    /// state is copied back; Y ends in [`Buf::Ys`] at `resources.y_offset`. With `timestamps`
    /// (and a device that has them), the pass's start and end are resolved into
    /// [`Buf::Timestamps`]. Returns the copies and dispatches the state's moves recorded.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        plan: &Plan,
        pipelines: &Resolved,
        state: &StateMoves<'_>,
        timestamps: bool,
    ) -> Recorded {
        let res = &self.resources;
        let work = self.buffer(Buf::Work);
        // Every layer's state at once: h into half 0, c after both halves.
        let into = state.encode(encoder, work, (0, res.c_offset), false);
        let queries = self.queries.as_ref().filter(|_| timestamps);
        let passes = plan.dispatches.chunks(MAX_DISPATCHES_PER_PASS);
        let last = passes.len() - 1;
        for (n, dispatches) in passes.enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("lstm forward"),
                timestamp_writes: queries.filter(|_| n == 0 || n == last).map(|query_set| {
                    wgpu::ComputePassTimestampWrites {
                        query_set,
                        beginning_of_pass_write_index: (n == 0).then_some(0),
                        end_of_pass_write_index: (n == last).then_some(1),
                    }
                }),
            });
            for d in dispatches {
                self.dispatch(&mut pass, d, pipelines.get(d.kernel));
            }
        }
        let back = state.encode(encoder, work, (res.h_out_offset, res.c_offset), true);
        if let Some(query_set) = queries {
            encoder.resolve_query_set(query_set, 0..2, self.buffer(Buf::Timestamps), 0);
        }
        Recorded {
            copies: into.copies + back.copies,
            dispatches: into.dispatches + back.dispatches,
        }
    }
}
