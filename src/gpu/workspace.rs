//! Per-shape buffers of a forward and its recording: the input projection and the recurrent steps
//! of every layer, between copies of the caller's state in and out.

use wgpu::util::DeviceExt;

use super::engine::{ForwardStats, KernelPart, ModelWeights};
use super::params::{GemmParams, StepParams};
use super::pipelines::Pipelines;
use super::shaders::{
    INPUT_PROJECTION_BLOCKED, INPUT_PROJECTION_BLOCKED_ROWS, INPUT_PROJECTION_TILE, STEP_SPLITK_UNITS,
    STEP_WORKGROUP,
};
use super::state::{LstmState, StateShape};
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
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
    /// `[h half 0 | h half 1 | c | m]`: h halves `[L][D][B][P]`, c and m `[L][D][B][H]`.
    work: wgpu::Buffer,
    /// The state of one-shot forwards.
    pub own_state: LstmState,
    /// `[y | h_n | c_n]`, mapped once per forward.
    pub staging: wgpu::Buffer,
    input_projection_groups: Vec<wgpu::BindGroup>,
    step_groups: Vec<wgpu::BindGroup>,
    /// With projection: one per layer.
    output_projection_groups: Vec<wgpu::BindGroup>,
    /// The Y pair; the last layer's Y starts at `y_offset`.
    pub y: wgpu::Buffer,
    pub y_offset: u64,
    /// Keeps the buffers the bind groups point at alive.
    _owned: Vec<wgpu::Buffer>,
    param_stride: u64,
    pub gemm: GemmVariant,
    /// Start and end of the forward's compute work, where the device has timestamp queries.
    pub timestamps: Option<Timestamps>,
}

/// Two timestamp queries (start and end of the forward's compute pass) and the buffer
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
        weights: &ModelWeights,
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
        let work = buffer("work state", nl as u64 * 2 * (sizes.h + sizes.c), storage);
        let xp = buffer("xp", rows * (d * 4 * h) as u64 * F32, storage);
        // Layer l writes half l % 2 of one buffer; halves start at aligned offsets so that the
        // next layer's input projection can bind the half it reads.
        let y_half = y_half_bytes(&device.limits(), sizes.y);
        let ys = buffer("y pair", nl.min(2) as u64 * y_half, storage);
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
        // One block per dispatch: (layer, step) layer by layer, then with stacked weights the
        // wavefront's (first layer, k).
        let mut blocks: Vec<(usize, usize)> = (0..nl).flat_map(|l| (0..t).map(move |s| (l, s))).collect();
        if weights.stacked() {
            blocks.extend((0..t + nl - 1).map(|k| (k.saturating_sub(t - 1), k)));
        }
        let mut step_bytes = vec![0u8; (blocks.len() as u64 * param_stride) as usize];
        for (n, &(layer, step)) in blocks.iter().enumerate() {
            let params = StepParams {
                step: step as u32,
                seq_len: t as u32,
                batch: b as u32,
                hidden: h as u32,
                out_size: p as u32,
                directions: d as u32,
                reverse_mask,
                stride_t,
                stride_b,
                layer: layer as u32,
                layers: nl as u32,
                y_half: (y_half / F32) as u32,
                r_first: weights.r_first,
                r_stride: weights.r_stride,
                _pad: [0; 2],
            };
            step_bytes[n * param_stride as usize..][..std::mem::size_of::<StepParams>()]
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
        let mut input_projection_groups = Vec::new();
        for (l, input) in weights.input.iter().enumerate() {
            let x_binding = if l == 0 {
                x.as_entire_binding()
            } else {
                wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &ys,
                    offset: ((l - 1) % 2) as u64 * y_half,
                    size: std::num::NonZeroU64::new(sizes.y),
                })
            };
            let gemm_sizes = GemmParams {
                m: rows as u32,
                n: (d * 4 * h) as u32,
                k: input.input_size as u32,
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
                    x_binding,
                    input.w.as_entire_binding(),
                    input.bias.as_entire_binding(),
                    xp.as_entire_binding(),
                ],
            ));
            owned.push(gemm_params);
        }
        // Per layer, or one over the stacked weights of the wavefront.
        let step_groups = weights
            .recurrent
            .iter()
            .map(|r| {
                pipelines.step_bind_group(
                    device,
                    &[
                        step_binding.clone(),
                        xp.as_entire_binding(),
                        r.as_entire_binding(),
                        lens.as_entire_binding(),
                        work.as_entire_binding(),
                        ys.as_entire_binding(),
                    ],
                )
            })
            .collect();
        let output_projection_groups = match &pipelines.output_projection {
            Some(pipeline) => weights
                .projection
                .iter()
                .map(|w_hr| {
                    pipeline.bind_group(
                        device,
                        "output_projection",
                        &[
                            step_binding.clone(),
                            w_hr.as_entire_binding(),
                            lens.as_entire_binding(),
                            work.as_entire_binding(),
                            ys.as_entire_binding(),
                        ],
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        owned.extend([step_params, xp]);
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
            y: ys,
            y_offset: ((nl - 1) % 2) as u64 * y_half,
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

    /// `repeats` dispatches of one kernel, on whatever the buffers hold (for timing). Under the
    /// wavefront (stacked weights only), a step is the dispatch in which `layer` takes its first
    /// step, with the layers below it.
    pub fn record_kernel(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        variants: Variants,
        part: KernelPart,
        repeats: usize,
    ) {
        let step = variants.step;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("lstm kernel"),
            timestamp_writes: None,
        });
        for _ in 0..repeats {
            match (part, variants.schedule) {
                (KernelPart::InputProjection { layer }, _) => {
                    self.dispatch_gemm(&mut pass, cfg, pipelines, layer)
                }
                (KernelPart::Step { layer }, Schedule::Layers) => {
                    self.dispatch_step(&mut pass, cfg, pipelines, step, layer, 0)
                }
                (KernelPart::Step { layer }, Schedule::Wavefront) => {
                    self.dispatch_wavefront(&mut pass, cfg, pipelines, step, layer)
                }
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

    /// Step `s` of `layer`, layer by layer.
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
        let offset = self.param_offset(layer * self.dims.seq_len + s);
        pass.set_pipeline(&pipelines.step(step, Schedule::Layers).pipeline);
        pass.set_bind_group(0, self.step_group(layer), &[offset]);
        match step {
            StepVariant::SplitK => {
                pass.dispatch_workgroups(h.div_ceil(STEP_SPLITK_UNITS), self.dims.batch as u32, d)
            }
            _ => {
                let (x, y) = self.step_grid(cfg, step);
                pass.dispatch_workgroups(x, y, d)
            }
        }
    }

    /// The bind group of `layer`'s steps: its own, or the one over the stacked weights, which
    /// serves every layer.
    fn step_group(&self, layer: usize) -> &wgpu::BindGroup {
        self.step_groups.get(layer).unwrap_or(&self.step_groups[0])
    }

    /// Workgroups along units and batch of a blocked step (`step.wgsl`).
    fn step_grid(&self, cfg: &LstmConfig, step: StepVariant) -> (u32, u32) {
        (
            (cfg.hidden_size as u32).div_ceil(step.units() * STEP_WORKGROUP),
            (self.dims.batch as u32).div_ceil(step.batch_block()),
        )
    }

    /// Wavefront dispatch `k`: every layer l with 0 ≤ k − l < T, at step k − l.
    fn dispatch_wavefront(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        step: StepVariant,
        k: usize,
    ) {
        let first = k.saturating_sub(self.dims.seq_len - 1);
        let last = k.min(cfg.num_layers - 1);
        pass.set_pipeline(&pipelines.step(step, Schedule::Wavefront).pipeline);
        let block = cfg.num_layers * self.dims.seq_len + k;
        pass.set_bind_group(0, self.step_group(0), &[self.param_offset(block)]);
        let (x, y) = self.step_grid(cfg, step);
        pass.dispatch_workgroups(x, y, (last + 1 - first) as u32);
    }

    fn param_offset(&self, block: usize) -> u32 {
        (block as u64 * self.param_stride) as u32
    }

    /// Every layer and timestep: `state` is copied in, updated and copied back; Y ends in
    /// `self.y` at `self.y_offset`.
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        cfg: &LstmConfig,
        pipelines: &Pipelines,
        variants: Variants,
        state: &LstmState,
        stats: &mut ForwardStats,
    ) {
        let step = variants.step;
        let Dims { seq_len: t, batch: b } = self.dims;
        let (d, p, nl) = (
            cfg.num_directions() as u32,
            cfg.output_size() as u32,
            cfg.num_layers,
        );
        let sizes = Sizes::new(cfg, self.dims);
        // Every layer's state at once: h into half 0, c after both halves.
        let (h_bytes, c_bytes) = (nl as u64 * sizes.h, nl as u64 * sizes.c);
        encoder.copy_buffer_to_buffer(&state.h, 0, &self.work, 0, h_bytes);
        encoder.copy_buffer_to_buffer(&state.c, 0, &self.work, 2 * h_bytes, c_bytes);
        {
            let timestamp_writes = self
                .timestamps
                .as_ref()
                .map(|ts| wgpu::ComputePassTimestampWrites {
                    query_set: &ts.queries,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("lstm forward"),
                timestamp_writes,
            });
            match variants.schedule {
                Schedule::Layers => {
                    for l in 0..nl {
                        self.dispatch_gemm(&mut pass, cfg, pipelines, l);
                        stats.dispatches += 1;
                        let project = pipelines
                            .output_projection
                            .as_ref()
                            .zip(self.output_projection_groups.get(l));
                        for s in 0..t {
                            self.dispatch_step(&mut pass, cfg, pipelines, step, l, s);
                            stats.dispatches += 1;
                            if let Some((pipeline, group)) = project {
                                let offset = self.param_offset(l * t + s);
                                pass.set_pipeline(&pipeline.pipeline);
                                pass.set_bind_group(0, group, &[offset]);
                                pass.dispatch_workgroups(p.div_ceil(STEP_WORKGROUP), b as u32, d);
                                stats.dispatches += 1;
                            }
                        }
                    }
                }
                Schedule::Wavefront => {
                    self.dispatch_gemm(&mut pass, cfg, pipelines, 0);
                    stats.dispatches += 1;
                    for k in 0..t + nl - 1 {
                        self.dispatch_wavefront(&mut pass, cfg, pipelines, step, k);
                        stats.dispatches += 1;
                    }
                }
            }
        }
        // After T steps every layer's h is in half T % 2.
        let h_half = (t as u64 % 2) * h_bytes;
        encoder.copy_buffer_to_buffer(&self.work, h_half, &state.h, 0, h_bytes);
        encoder.copy_buffer_to_buffer(&self.work, 2 * h_bytes, &state.c, 0, c_bytes);
        if let Some(ts) = &self.timestamps {
            encoder.resolve_query_set(&ts.queries, 0..2, &ts.resolved, 0);
        }
    }
}

/// Bytes of one half of the Y pair: Y, rounded up to the storage-binding offset alignment.
pub(crate) fn y_half_bytes(limits: &wgpu::Limits, y: u64) -> u64 {
    let align = limits.min_storage_buffer_offset_alignment as u64;
    y.max(F32).div_ceil(align) * align
}
