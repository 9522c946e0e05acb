//! `Lstm`: the GPU engine. It borrows the caller's device and queue, keeps weights resident,
//! records a whole forward (all layers, all timesteps) into one command encoder, submits once
//! and reads back once.

use std::sync::Mutex;

use wgpu::util::DeviceExt;

use super::params::{GemmParams, StepParams};
use super::pipelines::Pipelines;
use super::shaders::{INPUT_PROJECTION_TILE, STEP_WORKGROUP};
use super::{capture, limits, packing};
use crate::config::{Layout, LstmConfig};
use crate::error::{Error, Result};
use crate::forward::{check_request, state_shape, y_shape, Dims, Output, State};
use crate::tensor::Tensor;
use crate::weights::LstmWeights;

const F32: u64 = 4;

/// What one forward did, for checking the engine's structure and for benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardStats {
    /// Compute dispatches recorded.
    pub dispatches: u32,
    /// Queue submissions.
    pub submits: u32,
    /// Buffers mapped for reading.
    pub readbacks: u32,
    /// Bytes written to the GPU (input, lengths, initial state).
    pub bytes_uploaded: u64,
    /// Bytes read back (y, h_n, c_n).
    pub bytes_downloaded: u64,
}

/// Resident weights of one layer, in the kernels' packed layouts.
struct LayerWeights {
    input_size: usize,
    w: wgpu::Buffer,
    bias: wgpu::Buffer,
    r: wgpu::Buffer,
    /// W_hr transposed, with projection.
    w_hr: Option<wgpu::Buffer>,
}

/// Buffers and bind groups for one (T, B); kept and reused while calls keep that shape.
struct Workspace {
    dims: Dims,
    x: wgpu::Buffer,
    lens: wgpu::Buffer,
    /// `[h0 of every layer | c0 of every layer]`.
    init: wgpu::Buffer,
    /// `[h half 0 | h half 1 | c | m]`: h halves `[D][B][P]`, c and m `[D][B][H]`.
    state: wgpu::Buffer,
    /// `[y | h_n | c_n]`, mapped once per forward.
    staging: wgpu::Buffer,
    input_projection_groups: Vec<wgpu::BindGroup>,
    step_groups: Vec<wgpu::BindGroup>,
    /// With projection: one per layer.
    output_projection_groups: Vec<wgpu::BindGroup>,
    /// The last layer's output.
    y_final: wgpu::Buffer,
    /// Keeps the buffers the bind groups point at alive.
    _owned: Vec<wgpu::Buffer>,
    param_stride: u64,
}

/// An LSTM on a wgpu device.
pub struct Lstm {
    device: wgpu::Device,
    queue: wgpu::Queue,
    config: LstmConfig,
    pipelines: Pipelines,
    layers: Vec<LayerWeights>,
    workspace: Mutex<Option<Workspace>>,
    stats: Mutex<ForwardStats>,
}

impl Lstm {
    /// Build the engine on the caller's device: checks limits, compiles the kernels and uploads
    /// the weights once.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
    ) -> Result<Self> {
        weights.check_config(config)?;
        limits::check_model(&device.limits(), config)?;
        let h = config.hidden_size;
        let (pipelines, layers) = capture(device, "building the engine", || {
            let pipelines = Pipelines::new(device, config);
            let layers = weights
                .layers()
                .iter()
                .enumerate()
                .map(|(l, dirs)| {
                    let (w, bias) = packing::input_weights(dirs, h);
                    let r = packing::recurrent_weights(dirs, h);
                    LayerWeights {
                        input_size: config.layer_input_size(l),
                        w: storage_init(device, "input weights", &w),
                        bias: storage_init(device, "bias", &bias),
                        r: storage_init(device, "recurrent weights", &r),
                        w_hr: packing::projection_weights(dirs, h)
                            .map(|w| storage_init(device, "projection weights", &w)),
                    }
                })
                .collect();
            (pipelines, layers)
        })?;
        Ok(Lstm {
            device: device.clone(),
            queue: queue.clone(),
            config: config.clone(),
            pipelines,
            layers,
            workspace: Mutex::new(None),
            stats: Mutex::new(ForwardStats::default()),
        })
    }

    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// Counters of the most recent forward.
    pub fn last_stats(&self) -> ForwardStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run every sequence to length T.
    pub fn forward(&self, input: &Tensor, initial: Option<&State>) -> Result<Output> {
        self.forward_with_lens(input, initial, None)
    }

    /// Run with per-sequence lengths (`seq_lens[b]` in 1..=T); `None` means all T.
    pub fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        let dims = check_request(&self.config, input, initial, seq_lens)?;
        let mut slot = self.workspace.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|ws| ws.dims != dims) {
            *slot = None;
            *slot = Some(self.workspace(dims)?);
        }
        let ws = slot.as_ref().expect("workspace just built");
        let mut stats = ForwardStats::default();

        let submission = capture(&self.device, "forward", || {
            self.upload(ws, input, initial, seq_lens, &mut stats);
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("lstm forward"),
                });
            self.record(&mut encoder, ws, &mut stats);
            stats.submits += 1;
            self.queue.submit([encoder.finish()])
        })?;

        let data = self.read_staging(ws, submission)?;
        stats.readbacks += 1;
        stats.bytes_downloaded = ws.staging.size();
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;

        let cfg = &self.config;
        let (out, hidden) = (cfg.output_size(), cfg.hidden_size);
        let slots = cfg.num_layers * cfg.num_directions() * dims.batch;
        let y_len = dims.seq_len * dims.batch * cfg.num_directions() * out;
        let (y, rest) = data.split_at(y_len);
        let (h_n, c_n) = rest.split_at(slots * out);
        Ok(Output {
            y: Tensor::new(y_shape(cfg, dims), y.to_vec())?,
            h_n: Tensor::new(state_shape(cfg, dims.batch, out), h_n.to_vec())?,
            c_n: Tensor::new(state_shape(cfg, dims.batch, hidden), c_n.to_vec())?,
        })
    }

    fn workspace(&self, dims: Dims) -> Result<Workspace> {
        let limits = self.device.limits();
        let align = limits.min_uniform_buffer_offset_alignment as u64;
        let param_stride = (std::mem::size_of::<StepParams>() as u64).div_ceil(align) * align;
        limits::check_request(&limits, &self.config, dims, param_stride)?;
        let cfg = &self.config;
        let (t, b) = (dims.seq_len, dims.batch);
        let (d, h, p, nl) = (
            cfg.num_directions(),
            cfg.hidden_size,
            cfg.output_size(),
            cfg.num_layers,
        );
        let rows = (t * b) as u64;
        let sizes = Sizes::new(cfg, dims);

        capture(&self.device, "allocating buffers", || {
            let dev = &self.device;
            let storage = wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC;
            let buffer = |label: &'static str, size: u64, usage: wgpu::BufferUsages| {
                dev.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: size.max(4),
                    usage,
                    mapped_at_creation: false,
                })
            };
            let x = buffer("x", rows * cfg.input_size as u64 * F32, storage);
            let lens = buffer("seq_lens", b as u64 * 4, storage);
            let init = buffer("initial state", nl as u64 * (sizes.h + sizes.c), storage);
            let state = buffer("state", 2 * sizes.h + 2 * sizes.c, storage);
            let xp = buffer("xp", rows * (d * 4 * h) as u64 * F32, storage);
            let ys = [
                buffer("y even", sizes.y, storage),
                buffer("y odd", sizes.y, storage),
            ];
            let staging = buffer(
                "staging",
                sizes.y + nl as u64 * (sizes.h + sizes.c),
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            );

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
            let step_params = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
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
            for (l, lw) in self.layers.iter().enumerate() {
                let input = if l == 0 { &x } else { &ys[(l - 1) % 2] };
                let output = &ys[l % 2];
                let gemm = GemmParams {
                    m: rows as u32,
                    n: (d * 4 * h) as u32,
                    k: lw.input_size as u32,
                    _pad: 0,
                };
                let gemm_params = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("projection params"),
                    contents: bytemuck::bytes_of(&gemm),
                    usage: wgpu::BufferUsages::UNIFORM,
                });
                input_projection_groups.push(self.pipelines.input_projection.bind_group(
                    dev,
                    "input_projection",
                    &[
                        gemm_params.as_entire_binding(),
                        input.as_entire_binding(),
                        lw.w.as_entire_binding(),
                        lw.bias.as_entire_binding(),
                        xp.as_entire_binding(),
                    ],
                ));
                step_groups.push(self.pipelines.step.bind_group(
                    dev,
                    "step",
                    &[
                        step_binding.clone(),
                        xp.as_entire_binding(),
                        lw.r.as_entire_binding(),
                        lens.as_entire_binding(),
                        state.as_entire_binding(),
                        output.as_entire_binding(),
                    ],
                ));
                if let (Some(pipeline), Some(w_hr)) = (&self.pipelines.output_projection, &lw.w_hr)
                {
                    output_projection_groups.push(pipeline.bind_group(
                        dev,
                        "output_projection",
                        &[
                            step_binding.clone(),
                            w_hr.as_entire_binding(),
                            lens.as_entire_binding(),
                            state.as_entire_binding(),
                            output.as_entire_binding(),
                        ],
                    ));
                }
                owned.push(gemm_params);
            }
            let y_final = ys[(nl - 1) % 2].clone();
            owned.extend([step_params, xp]);
            owned.extend(ys);
            Workspace {
                dims,
                x,
                lens,
                init,
                state,
                staging,
                input_projection_groups,
                step_groups,
                output_projection_groups,
                y_final,
                _owned: owned,
                param_stride,
            }
        })
    }

    fn upload(
        &self,
        ws: &Workspace,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        stats: &mut ForwardStats,
    ) {
        let mut write = |buffer: &wgpu::Buffer, offset: u64, bytes: &[u8]| {
            self.queue.write_buffer(buffer, offset, bytes);
            stats.bytes_uploaded += bytes.len() as u64;
        };
        write(&ws.x, 0, bytemuck::cast_slice(input.data()));
        let t = ws.dims.seq_len as u32;
        let lens: Vec<u32> = match seq_lens {
            Some(l) => l.iter().map(|&v| v as u32).collect(),
            None => vec![t; ws.dims.batch],
        };
        write(&ws.lens, 0, bytemuck::cast_slice(&lens));
        match initial {
            Some(s) => {
                let h_bytes: &[u8] = bytemuck::cast_slice(s.h.data());
                write(&ws.init, 0, h_bytes);
                write(
                    &ws.init,
                    h_bytes.len() as u64,
                    bytemuck::cast_slice(s.c.data()),
                );
            }
            None => {
                let zeros = vec![0u8; ws.init.size() as usize];
                write(&ws.init, 0, &zeros);
            }
        }
    }

    /// All layers, all timesteps, into one encoder.
    fn record(&self, encoder: &mut wgpu::CommandEncoder, ws: &Workspace, stats: &mut ForwardStats) {
        let cfg = &self.config;
        let Dims {
            seq_len: t,
            batch: b,
        } = ws.dims;
        let (d, h, p, nl) = (
            cfg.num_directions() as u32,
            cfg.hidden_size as u32,
            cfg.output_size() as u32,
            cfg.num_layers,
        );
        let sizes = Sizes::new(cfg, ws.dims);
        let rows = (t * b) as u32;
        let tile = INPUT_PROJECTION_TILE;
        // Byte offsets: state is [h half 0 | h half 1 | c | m]; init and staging hold h of every
        // layer, then c of every layer (staging after y).
        let c_state = 2 * sizes.h;
        let (init_c, staging_h) = (nl as u64 * sizes.h, sizes.y);
        let staging_c = staging_h + nl as u64 * sizes.h;
        for l in 0..nl {
            let l64 = l as u64;
            encoder.copy_buffer_to_buffer(&ws.init, l64 * sizes.h, &ws.state, 0, sizes.h);
            encoder.copy_buffer_to_buffer(
                &ws.init,
                init_c + l64 * sizes.c,
                &ws.state,
                c_state,
                sizes.c,
            );
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("layer"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.pipelines.input_projection.pipeline);
                pass.set_bind_group(0, &ws.input_projection_groups[l], &[]);
                pass.dispatch_workgroups((d * 4 * h).div_ceil(tile), rows.div_ceil(tile), 1);
                stats.dispatches += 1;
                let project = self
                    .pipelines
                    .output_projection
                    .as_ref()
                    .zip(ws.output_projection_groups.get(l));
                for s in 0..t {
                    let offset = (s as u64 * ws.param_stride) as u32;
                    pass.set_pipeline(&self.pipelines.step.pipeline);
                    pass.set_bind_group(0, &ws.step_groups[l], &[offset]);
                    pass.dispatch_workgroups(h.div_ceil(STEP_WORKGROUP), b as u32, d);
                    stats.dispatches += 1;
                    if let Some((pipeline, group)) = project {
                        pass.set_pipeline(&pipeline.pipeline);
                        pass.set_bind_group(0, group, &[offset]);
                        pass.dispatch_workgroups(p.div_ceil(STEP_WORKGROUP), b as u32, d);
                        stats.dispatches += 1;
                    }
                }
            }
            // Final state: h is in half t % 2 after t steps.
            let h_half = (t as u64 % 2) * sizes.h;
            encoder.copy_buffer_to_buffer(
                &ws.state,
                h_half,
                &ws.staging,
                staging_h + l64 * sizes.h,
                sizes.h,
            );
            encoder.copy_buffer_to_buffer(
                &ws.state,
                c_state,
                &ws.staging,
                staging_c + l64 * sizes.c,
                sizes.c,
            );
        }
        encoder.copy_buffer_to_buffer(&ws.y_final, 0, &ws.staging, 0, sizes.y);
    }

    fn read_staging(&self, ws: &Workspace, submission: wgpu::SubmissionIndex) -> Result<Vec<f32>> {
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        let slice = ws.staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| Error::Gpu {
                during: "waiting for the forward",
                message: e.to_string(),
            })?;
        let mapped = pollster::block_on(receiver.receive());
        match mapped {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                return Err(Error::Gpu {
                    during: "reading back outputs",
                    message: e.to_string(),
                })
            }
            None => {
                return Err(Error::Gpu {
                    during: "reading back outputs",
                    message: "the map callback was dropped".into(),
                })
            }
        }
        let data = {
            let view = slice.get_mapped_range().map_err(|e| Error::Gpu {
                during: "reading back outputs",
                message: e.to_string(),
            })?;
            view.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        ws.staging.unmap();
        Ok(data)
    }
}

/// Byte sizes of one layer's h state (`[D][B][P]`) and c state (`[D][B][H]`), and of Y.
struct Sizes {
    h: u64,
    c: u64,
    y: u64,
}

impl Sizes {
    fn new(cfg: &LstmConfig, dims: Dims) -> Self {
        let db = (cfg.num_directions() * dims.batch) as u64;
        let (p, h) = (cfg.output_size() as u64, cfg.hidden_size as u64);
        Sizes {
            h: db * p * F32,
            c: db * h * F32,
            y: (dims.seq_len as u64) * db * p * F32,
        }
    }
}

fn storage_init(device: &wgpu::Device, label: &'static str, data: &[f32]) -> wgpu::Buffer {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: wgpu::BufferUsages::STORAGE,
    })
}
