//! Per-shape buffers of a forward and its recording: the input projection and the recurrent steps
//! of every layer, between copies of the caller's state in and out.

use wgpu::util::DeviceExt;

use super::engine::{ForwardStats, KernelPart, LayerWeights};
use super::params::{GemmParams, StepParams};
use super::pipelines::Pipelines;
use super::shaders::{
    INPUT_PROJECTION_BLOCKED, INPUT_PROJECTION_BLOCKED_ROWS, INPUT_PROJECTION_TILE, STEP_SPLITK_UNITS,
    STEP_WORKGROUP,
};
use super::state::{LstmState, StateShape};
use super::variants::{GemmVariant, StepVariant};
use crate::config::{Layout, LstmConfig};
use crate::forward::Dims;

const F32: u64 = 4;

/// Buffers and bind groups for one (T, B); kept and reused while calls keep that shape.
pub(crate) struct Workspace {
    pub dims: Dims,
    /// X `[T·B, I]` in the config's layout.
    pub x: wgpu::Buffer,
    /// `[B]` u32 lengths.
    pub lens: wgpu::Buffer,
    /// `[h half 0 | h half 1 | c | m]`: h halves `[D][B][P]`, c and m `[D][B][H]`.
    work: wgpu::Buffer,
    /// The state of one-shot forwards.
    pub own_state: LstmState,
    /// `[y | h_n | c_n]`, mapped once per forward.
    pub staging: wgpu::Buffer,
    input_projection_groups: Vec<wgpu::BindGroup>,
    step_groups: Vec<wgpu::BindGroup>,
    /// With projection: one per layer.
    output_projection_groups: Vec<wgpu::BindGroup>,
    /// The last layer's Y.
    pub y: wgpu::Buffer,
    /// Keeps the buffers the bind groups point at alive.
    _owned: Vec<wgpu::Buffer>,
    param_stride: u64,
    gemm: GemmVariant,
    /// Start and end of the forward's compute work, where the device has timestamp queries.
    pub timestamps: Option<Timestamps>,
}

/// Two timestamp queries (start of the first layer's pass, end of the last's) and the buffer
/// they resolve into.
pub(crate) struct Timestamps {
    queries: wgpu::QuerySet,
    pub resolved: wgpu::Buffer,
}

/// Bytes of the two resolved u64 timestamps at the end of the staging buffer.
pub(crate) const TIMESTAMP_BYTES: u64 = 16;

/// Byte sizes of one layer's h (`[D][B][P]`) and c (`[D][B][H]`), and of Y.
pub(crate) struct Sizes {
    pub h: u64,
    pub c: u64,
    pub y: u64,
}

impl Sizes {
    pub fn new(cfg: &LstmConfig, dims: Dims) -> Self {
        let db = (cfg.num_directions() * dims.batch) as u64;
        let (p, h) = (cfg.output_size() as u64, cfg.hidden_size as u64);
        Sizes {
            h: db * p * F32,
            c: db * h * F32,
            y: dims.seq_len as u64 * db * p * F32,
        }
    }
}

impl Workspace {
    pub fn new(
        device: &wgpu::Device,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        gemm: GemmVariant,
        layers: &[LayerWeights],
        dims: Dims,
        param_stride: u64,
    ) -> Workspace {
        let (t, b) = (dims.seq_len, dims.batch);
        let (d, h, p, nl) = (
            cfg.num_directions(),
            cfg.hidden_size,
            cfg.output_size(),
            cfg.num_layers,
        );
        let rows = (t * b) as u64;
        let sizes = Sizes::new(cfg, dims);
        let storage =
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
        let buffer = |label: &'static str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(4),
                usage,
                mapped_at_creation: false,
            })
        };
        let x = buffer("x", rows * cfg.input_size as u64 * F32, storage);
        let lens = buffer("seq_lens", b as u64 * 4, storage);
        let work = buffer("work state", 2 * sizes.h + 2 * sizes.c, storage);
        let xp = buffer("xp", rows * (d * 4 * h) as u64 * F32, storage);
        let ys = [
            buffer("y even", sizes.y, storage),
            buffer("y odd", sizes.y, storage),
        ];
        let staging = buffer(
            "staging",
            sizes.y + nl as u64 * (sizes.h + sizes.c) + TIMESTAMP_BYTES,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let timestamps = device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| Timestamps {
                queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("forward timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                }),
                resolved: buffer(
                    "resolved timestamps",
                    TIMESTAMP_BYTES,
                    wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                ),
            });

        let (stride_t, stride_b) = match cfg.layout {
            Layout::SeqMajor => (b as u32, 1),
            Layout::BatchMajor => (1, t as u32),
        };
        let reverse_mask = (0..d)
            .filter(|&k| cfg.direction.is_reversed(k))
            .map(|k| 1u32 << k)
            .sum();
        let mut step_bytes = vec![0u8; (t as u64 * param_stride) as usize];
        for s in 0..t {
            let params = StepParams {
                step: s as u32,
                seq_len: t as u32,
                batch: b as u32,
                hidden: h as u32,
                out_size: p as u32,
                directions: d as u32,
                reverse_mask,
                stride_t,
                stride_b,
                _pad: [0; 3],
            };
            step_bytes[s * param_stride as usize..][..std::mem::size_of::<StepParams>()]
                .copy_from_slice(bytemuck::bytes_of(&params));
        }
        let step_params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("step params"),
            contents: &step_bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let step_binding = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &step_params,
            offset: 0,
            size: std::num::NonZeroU64::new(std::mem::size_of::<StepParams>() as u64),
        });

        let mut owned = Vec::new();
        let (mut input_projection_groups, mut step_groups, mut output_projection_groups) =
            (Vec::new(), Vec::new(), Vec::new());
        for (l, lw) in layers.iter().enumerate() {
            let input = if l == 0 { &x } else { &ys[(l - 1) % 2] };
            let output = &ys[l % 2];
            let gemm_sizes = GemmParams {
                m: rows as u32,
                n: (d * 4 * h) as u32,
                k: lw.input_size as u32,
                _pad: 0,
            };
            let gemm_params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("input projection params"),
                contents: bytemuck::bytes_of(&gemm_sizes),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            input_projection_groups.push(pipelines.gemm(gemm).bind_group(
                device,
                "input_projection",
                &[
                    gemm_params.as_entire_binding(),
                    input.as_entire_binding(),
                    lw.w.as_entire_binding(),
                    lw.bias.as_entire_binding(),
                    xp.as_entire_binding(),
                ],
            ));
            step_groups.push(pipelines.step(StepVariant::Batch1).bind_group(
                device,
                "step",
                &[
                    step_binding.clone(),
                    xp.as_entire_binding(),
                    lw.r.as_entire_binding(),
                    lens.as_entire_binding(),
                    work.as_entire_binding(),
                    output.as_entire_binding(),
                ],
            ));
            if let (Some(pipeline), Some(w_hr)) = (&pipelines.output_projection, &lw.w_hr) {
                output_projection_groups.push(pipeline.bind_group(
                    device,
                    "output_projection",
                    &[
                        step_binding.clone(),
                        w_hr.as_entire_binding(),
                        lens.as_entire_binding(),
                        work.as_entire_binding(),
                        output.as_entire_binding(),
                    ],
                ));
            }
            owned.push(gemm_params);
        }
        let y = ys[(nl - 1) % 2].clone();
        owned.extend([step_params, xp]);
        owned.extend(ys);
        Workspace {
            dims,
            x,
            lens,
            work,
            own_state: LstmState::new(device, StateShape::new(cfg, b)),
            staging,
            input_projection_groups,
            step_groups,
            output_projection_groups,
            y,
            _owned: owned,
            param_stride,
            gemm,
            timestamps,
        }
    }

    /// Per-sequence lengths (`None`: all T) as the kernels read them.
    pub fn lengths(&self, seq_lens: Option<&[usize]>) -> Vec<u32> {
        match seq_lens {
            Some(l) => l.iter().map(|&v| v as u32).collect(),
            None => vec![self.dims.seq_len as u32; self.dims.batch],
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
        encoder.copy_buffer_to_buffer(&upload, 0, &self.lens, 0, upload.size());
    }

    /// `repeats` dispatches of one kernel, on whatever the buffers hold (for timing).
    #[allow(clippy::too_many_arguments)]
    pub fn record_kernel(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        step: StepVariant,
        part: KernelPart,
        repeats: usize,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("lstm kernel"),
            timestamp_writes: None,
        });
        for _ in 0..repeats {
            match part {
                KernelPart::InputProjection { layer } => self.dispatch_gemm(&mut pass, cfg, pipelines, layer),
                KernelPart::Step { layer } => self.dispatch_step(&mut pass, cfg, pipelines, step, layer, 0),
            }
        }
    }

    fn dispatch_gemm(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        layer: usize,
    ) {
        let n = (cfg.num_directions() * 4 * cfg.hidden_size) as u32;
        let rows = (self.dims.seq_len * self.dims.batch) as u32;
        pass.set_pipeline(&pipelines.gemm(self.gemm).pipeline);
        pass.set_bind_group(0, &self.input_projection_groups[layer], &[]);
        match self.gemm {
            GemmVariant::Tiled => {
                let tile = INPUT_PROJECTION_TILE;
                pass.dispatch_workgroups(n.div_ceil(tile), rows.div_ceil(tile), 1);
            }
            GemmVariant::RegisterBlocked => pass.dispatch_workgroups(
                (n / 4).div_ceil(2 * INPUT_PROJECTION_BLOCKED.workgroup_size[0]),
                rows.div_ceil(INPUT_PROJECTION_BLOCKED_ROWS),
                1,
            ),
        }
    }

    fn dispatch_step(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        step: StepVariant,
        layer: usize,
        s: usize,
    ) {
        let (d, h) = (cfg.num_directions() as u32, cfg.hidden_size as u32);
        let offset = (s as u64 * self.param_stride) as u32;
        pass.set_pipeline(&pipelines.step(step).pipeline);
        pass.set_bind_group(0, &self.step_groups[layer], &[offset]);
        match step {
            StepVariant::SplitK => {
                pass.dispatch_workgroups(h.div_ceil(STEP_SPLITK_UNITS), self.dims.batch as u32, d)
            }
            _ => pass.dispatch_workgroups(
                h.div_ceil(step.units() * STEP_WORKGROUP),
                (self.dims.batch as u32).div_ceil(step.batch_block()),
                d,
            ),
        }
    }

    /// Every layer and timestep: `state` is copied in, updated and copied back; Y ends in `self.y`.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        step: StepVariant,
        state: &LstmState,
        stats: &mut ForwardStats,
    ) {
        let Dims { seq_len: t, batch: b } = self.dims;
        let (d, p) = (cfg.num_directions() as u32, cfg.output_size() as u32);
        let sizes = Sizes::new(cfg, self.dims);
        let c_work = 2 * sizes.h;
        for l in 0..cfg.num_layers {
            let (h_at, c_at) = (l as u64 * sizes.h, l as u64 * sizes.c);
            encoder.copy_buffer_to_buffer(&state.h, h_at, &self.work, 0, sizes.h);
            encoder.copy_buffer_to_buffer(&state.c, c_at, &self.work, c_work, sizes.c);
            {
                let last = cfg.num_layers - 1;
                // Only the first layer's pass marks the start and only the last one's the end.
                let timestamp_writes = self
                    .timestamps
                    .as_ref()
                    .filter(|_| l == 0 || l == last)
                    .map(|ts| wgpu::ComputePassTimestampWrites {
                        query_set: &ts.queries,
                        beginning_of_pass_write_index: (l == 0).then_some(0),
                        end_of_pass_write_index: (l == last).then_some(1),
                    });
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("lstm layer"),
                    timestamp_writes,
                });
                self.dispatch_gemm(&mut pass, cfg, pipelines, l);
                stats.dispatches += 1;
                let project = pipelines
                    .output_projection
                    .as_ref()
                    .zip(self.output_projection_groups.get(l));
                for s in 0..t {
                    let offset = (s as u64 * self.param_stride) as u32;
                    self.dispatch_step(&mut pass, cfg, pipelines, step, l, s);
                    stats.dispatches += 1;
                    if let Some((pipeline, group)) = project {
                        pass.set_pipeline(&pipeline.pipeline);
                        pass.set_bind_group(0, group, &[offset]);
                        pass.dispatch_workgroups(p.div_ceil(STEP_WORKGROUP), b as u32, d);
                        stats.dispatches += 1;
                    }
                }
            }
            // After t steps h is in half t % 2.
            let h_half = (t as u64 % 2) * sizes.h;
            encoder.copy_buffer_to_buffer(&self.work, h_half, &state.h, h_at, sizes.h);
            encoder.copy_buffer_to_buffer(&self.work, c_work, &state.c, c_at, sizes.c);
        }
        if let Some(ts) = &self.timestamps {
            encoder.resolve_query_set(&ts.queries, 0..2, &ts.resolved, 0);
        }
    }
}
