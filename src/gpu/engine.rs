//! `Lstm`: the GPU engine. It borrows the caller's device and queue, keeps weights resident,
//! and records a whole forward (all layers, all timesteps) into one command encoder: its own,
//! submitted once and read back once, or the caller's, where it submits and maps nothing.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_intrusive::sync::Mutex as AsyncMutex;
use wgpu::util::DeviceExt;

use super::capture;
use super::limits;
use super::packing;
use super::params::StepParams;
use super::pipelines::{PipelineCache, Pipelines, Tuning};
use super::readback;
use super::state::{LstmState, StateShape};
use super::tune;
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
use super::workspace::{Sizes, Workspace, TIMESTAMP_BYTES};
use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::{check_request, state_shape, y_shape, Dims, Lengths, Output, State};
use crate::tensor::Tensor;
use crate::weights::LstmWeights;

/// What one forward did, for checking the engine's structure and for benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardStats {
    /// Compute dispatches recorded.
    pub dispatches: u32,
    /// Queue submissions (0 when encoding into the caller's encoder).
    pub submits: u32,
    /// Buffers mapped for reading (0 when encoding into the caller's encoder).
    pub readbacks: u32,
    /// Bytes written to the GPU from the host (input, lengths, initial state).
    pub bytes_uploaded: u64,
    /// Bytes read back to the host.
    pub bytes_downloaded: u64,
    /// Host time spent recording the commands (encoder creation to finish), in nanoseconds.
    pub record_ns: u64,
    /// GPU time of the compute work, from timestamp queries, in nanoseconds; `None` where the
    /// device has no `TIMESTAMP_QUERY` feature (or when encoding into the caller's encoder).
    pub gpu_ns: Option<u64>,
    /// The kernels that ran.
    pub variants: Variants,
    /// Submissions the autotune made before this call's own (only the first time a shape class
    /// meets the device).
    pub autotune_submits: u32,
}

impl Default for ForwardStats {
    fn default() -> Self {
        ForwardStats {
            dispatches: 0,
            submits: 0,
            readbacks: 0,
            bytes_uploaded: 0,
            bytes_downloaded: 0,
            record_ns: 0,
            gpu_ns: None,
            variants: Variants {
                gemm: GemmVariant::Tiled,
                step: StepVariant::Batch1,
                schedule: Schedule::Layers,
            },
            autotune_submits: 0,
        }
    }
}

/// One kernel of a forward, for timing it alone ([`Lstm::encode_kernel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelPart {
    /// The input-projection GEMM of a layer (all timesteps, all directions).
    InputProjection { layer: usize },
    /// One recurrent step of a layer (all directions); under the wavefront schedule, the
    /// dispatch in which the layer takes its first step, together with the layers below it.
    Step { layer: usize },
}

/// Resident weights in the kernels' packed layouts, prepared once at load.
pub(crate) struct ModelWeights {
    /// Every layer's input-projection weights, for the GEMM.
    pub input: Vec<InputWeights>,
    /// Recurrent weights and peepholes, one buffer per layer; for a model that can run as a
    /// wavefront, one stacked buffer with every layer's, and layers ≥ 1's input weights and
    /// biases in the step's layout ([`packing::stacked_weights`]), which both schedules read.
    pub recurrent: Vec<wgpu::Buffer>,
    /// In vec4s, where layer 1's block starts in the stacked buffer and the stride between the
    /// blocks after it (both 0 with one buffer per layer).
    pub r_first: u32,
    pub r_stride: u32,
    /// W_hr transposed, per layer, with projection.
    pub projection: Vec<wgpu::Buffer>,
}

impl ModelWeights {
    /// Whether the recurrent weights are stacked, so the layers can also run as a wavefront.
    pub fn stacked(&self) -> bool {
        self.r_first > 0
    }
}

/// One layer's input-projection weights, in the GEMM variant's layout.
pub(crate) struct InputWeights {
    pub input_size: usize,
    pub w: wgpu::Buffer,
    pub bias: wgpu::Buffer,
}

/// Where [`Lstm::encode`] reads its input and writes its output, in the caller's buffers.
///
/// - `input`: X as little-endian f32 in the config's layout (`[T,B,I]` or `[B,T,I]`), starting
///   at `input_offset`; usage must include `COPY_SRC`.
/// - `output`: Y (`[T,B,D·P]` or `[B,T,D·P]`) written at `output_offset`; usage `COPY_DST`.
/// - Offsets and sizes are multiples of 4 bytes (`wgpu::COPY_BUFFER_ALIGNMENT`).
pub struct EncodeTarget<'a> {
    pub input: &'a wgpu::Buffer,
    pub input_offset: u64,
    pub output: &'a wgpu::Buffer,
    pub output_offset: u64,
    /// T of this chunk.
    pub seq_len: usize,
    /// B: must equal the state's batch.
    pub batch: usize,
    /// Per-stream valid steps in this chunk, each in 0..=T (0 keeps that stream's state);
    /// `None` means all T.
    pub seq_lens: Option<&'a [usize]>,
    /// Also copy the updated state into the caller's buffers (same layouts as `LstmState`).
    pub export_state: Option<StateExport<'a>>,
}

/// Caller buffers (usage `COPY_DST`) that receive h `[L·D][B][P]` and c `[L·D][B][H]`.
pub struct StateExport<'a> {
    pub h: &'a wgpu::Buffer,
    pub h_offset: u64,
    pub c: &'a wgpu::Buffer,
    pub c_offset: u64,
}

/// An LSTM on a wgpu device.
///
/// `Lstm` is `Send + Sync`. Calls on one engine take turns on its per-shape buffers; engines
/// share nothing but what they are given (the device, and a [`PipelineCache`]).
pub struct Lstm {
    device: wgpu::Device,
    queue: wgpu::Queue,
    config: LstmConfig,
    pipelines: Arc<Pipelines>,
    tuning: Arc<Tuning>,
    gemm: GemmVariant,
    /// Fixed variants, with the schedule this model can run.
    forced: Option<Variants>,
    weights: ModelWeights,
    workspace: AsyncMutex<Option<Workspace>>,
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
        Self::with_cache(&PipelineCache::new(device), queue, config, weights)
    }

    /// Like [`Lstm::new`] on the cache's device, taking compiled pipelines from (and adding them
    /// to) `cache`, so engines of the same kind on one device compile their kernels once. `queue`
    /// is that device's queue.
    pub fn with_cache(
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
    ) -> Result<Self> {
        Self::with_variants(cache, queue, config, weights, None)
    }

    /// Like [`Lstm::with_cache`], with the kernel variants fixed instead of autotuned (for
    /// conformance runs of every variant, and for reproducible benchmarks).
    pub fn with_variants(
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
        variants: Option<Variants>,
    ) -> Result<Self> {
        let device = cache.device();
        weights.check_config(config)?;
        limits::check_model(&device.limits(), config)?;
        let pipelines = cache.get(config)?;
        let tuning = cache.tuning();
        let h = config.hidden_size;
        let n = config.num_directions() * 4 * h;
        // The GEMM variant fixes the input weights' layout, so it is chosen before they upload.
        let (gemm, _) = match variants {
            Some(v) => (v.gemm, false),
            None => tuning.gemm(tune::gemm_key(config.input_size, n), || {
                capture(device, "autotuning", || {
                    tune::gemm(device, queue, &pipelines, config.input_size, n)
                })?
            })?,
        };
        // Stacked weights let the layers run as a wavefront, where the model allows it and they
        // fit in one binding.
        let stacked =
            Schedule::wavefront_fits(config) && limits::stacked_weights(&device.limits(), config).is_ok();
        let weights = capture(device, "uploading the weights", || {
            upload_weights(device, config, weights, gemm, stacked)
        })?;
        Ok(Lstm {
            device: device.clone(),
            queue: queue.clone(),
            config: config.clone(),
            pipelines,
            tuning,
            gemm,
            forced: variants.map(|v| Variants {
                schedule: if stacked {
                    v.effective(config).schedule
                } else {
                    Schedule::Layers
                },
                ..v
            }),
            weights,
            workspace: AsyncMutex::new(None, true),
            stats: Mutex::new(ForwardStats::default()),
        })
    }

    /// The step variant and schedule for the workspace's shape: forced, already chosen for its
    /// class on this device, or (when `may_tune`) timed now. Encoding into a caller's encoder
    /// cannot tune and falls back on one element per invocation below a batch of 4 and four
    /// above, layer by layer.
    fn choose(&self, ws: &Workspace, may_tune: bool, stats: &mut ForwardStats) -> Result<Variants> {
        if let Some(v) = self.forced {
            return Ok(v);
        }
        let key = tune::step_key(&self.config, ws.dims, self.weights.stacked());
        if !may_tune {
            let fallback = if ws.dims.batch < 4 {
                StepVariant::Batch1
            } else {
                StepVariant::Batch4
            };
            let (step, schedule) = self
                .tuning
                .known_step(&key)
                .unwrap_or((fallback, Schedule::Layers));
            return Ok(self.variants_with(step, schedule));
        }
        let mut submits = 0;
        let ((step, schedule), _) = self.tuning.step(key, || {
            let (choice, n) = capture(&self.device, "autotuning", || {
                tune::step(
                    &self.device,
                    &self.queue,
                    &self.pipelines,
                    &self.config,
                    ws,
                    self.weights.stacked(),
                )
            })??;
            submits = n;
            Ok(choice)
        })?;
        stats.autotune_submits += submits;
        Ok(self.variants_with(step, schedule))
    }

    /// The kernels the engine runs at shape `dims` (as chosen so far).
    pub fn variants(&self, dims: Dims) -> Variants {
        self.forced.unwrap_or_else(|| {
            let (step, schedule) = self
                .tuning
                .known_step(&tune::step_key(&self.config, dims, self.weights.stacked()))
                .unwrap_or((StepVariant::Batch1, Schedule::Layers));
            self.variants_with(step, schedule)
        })
    }

    fn variants_with(&self, step: StepVariant, schedule: Schedule) -> Variants {
        Variants {
            gemm: self.gemm,
            step,
            schedule,
        }
    }

    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// The device the engine runs on.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue the engine submits to.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Read a state back to the host (one submission and one map).
    pub fn read_state(&self, state: &LstmState) -> Result<State> {
        state.read(&self.device, &self.queue)
    }

    /// Counters of the most recent forward, stream step or encode.
    pub fn last_stats(&self) -> ForwardStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A zeroed GPU-resident state for `batch` independent streams.
    pub fn new_state(&self, batch: usize) -> Result<LstmState> {
        if batch == 0 {
            return Err(Error::invalid("new_state", "batch must be at least 1"));
        }
        let shape = StateShape::new(&self.config, batch);
        limits::storage_buffer(
            &self.device.limits(),
            shape.c_bytes(shape.slots).max(shape.h_bytes(shape.slots)),
            "",
        )?;
        capture(&self.device, "allocating the state", || {
            LstmState::new(&self.device, shape)
        })
    }

    /// Run every sequence to length T.
    pub fn forward(&self, input: &Tensor, initial: Option<&State>) -> Result<Output> {
        self.forward_with_lens(input, initial, None)
    }

    /// Run with per-sequence lengths (`seq_lens[b]` in 1..=T); `None` means all T. Blocks until
    /// the outputs are read back.
    pub fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        pollster::block_on(self.one_shot(input, initial, seq_lens, true))
    }

    /// [`Lstm::forward_with_lens`] as a future that resolves when the outputs are mapped. It does
    /// not poll the device: on native, the application's loop calls
    /// `device.poll(wgpu::PollType::Poll)` (or a thread waits) until it resolves.
    pub async fn forward_async(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        self.one_shot(input, initial, seq_lens, false).await
    }

    /// Feed the next chunk of each stream. The state is read and updated on the GPU; only Y of
    /// the chunk comes back. `seq_lens[b]` in 0..=T is how many steps stream b has in this
    /// chunk (0 leaves its state unchanged and its rows of Y zero). A bidirectional layer's
    /// reverse direction runs within the chunk.
    pub fn forward_stream(
        &self,
        input: &Tensor,
        state: &mut LstmState,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        pollster::block_on(self.stream(input, state, seq_lens, true))
    }

    /// [`Lstm::forward_stream`] as a future; see [`Lstm::forward_async`] about polling.
    pub async fn forward_stream_async(
        &self,
        input: &Tensor,
        state: &mut LstmState,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        self.stream(input, state, seq_lens, false).await
    }

    /// Record a forward of one chunk into the caller's encoder, from and to the caller's buffers
    /// (see [`EncodeTarget`]). Nothing is submitted or mapped; the caller submits. Buffers are
    /// checked first and a wrong size, usage or alignment is an error naming the buffer.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        state: &mut LstmState,
        target: &EncodeTarget<'_>,
    ) -> Result<()> {
        let cfg = &self.config;
        let dims = Dims {
            seq_len: target.seq_len,
            batch: target.batch,
        };
        if dims.seq_len == 0 || dims.batch == 0 {
            return Err(Error::invalid("encode", "seq_len and batch must be at least 1"));
        }
        crate::forward::check_lengths(target.seq_lens, dims, Lengths::MayBeZero)?;
        self.check_state(state, dims.batch)?;
        let sizes = Sizes::new(cfg, dims);
        let x_bytes = (dims.seq_len * dims.batch * cfg.input_size * 4) as u64;
        check_buffer(
            "input",
            target.input,
            target.input_offset,
            x_bytes,
            wgpu::BufferUsages::COPY_SRC,
        )?;
        check_buffer(
            "output",
            target.output,
            target.output_offset,
            sizes.y,
            wgpu::BufferUsages::COPY_DST,
        )?;
        let shape = state.shape;
        if let Some(export) = &target.export_state {
            check_buffer(
                "export_state.h",
                export.h,
                export.h_offset,
                shape.h_bytes(shape.slots),
                wgpu::BufferUsages::COPY_DST,
            )?;
            check_buffer(
                "export_state.c",
                export.c,
                export.c_offset,
                shape.c_bytes(shape.slots),
                wgpu::BufferUsages::COPY_DST,
            )?;
        }
        let mut slot = pollster::block_on(self.workspace.lock());
        let ws = self.ready_workspace(&mut slot, dims)?;
        let mut stats = ForwardStats::default();
        let variants = self.choose(ws, false, &mut stats)?;
        stats.variants = variants;
        let started = Instant::now();
        capture(&self.device, "encoding a forward", || {
            encoder.copy_buffer_to_buffer(target.input, target.input_offset, &ws.x, 0, x_bytes);
            ws.encode_lengths(&self.device, encoder, target.seq_lens);
            ws.record(encoder, cfg, &self.pipelines, variants, state, &mut stats);
            encoder.copy_buffer_to_buffer(&ws.y, ws.y_offset, target.output, target.output_offset, sizes.y);
            if let Some(export) = &target.export_state {
                encoder.copy_buffer_to_buffer(
                    &state.h,
                    0,
                    export.h,
                    export.h_offset,
                    shape.h_bytes(shape.slots),
                );
                encoder.copy_buffer_to_buffer(
                    &state.c,
                    0,
                    export.c,
                    export.c_offset,
                    shape.c_bytes(shape.slots),
                );
            }
        })?;
        stats.record_ns = started.elapsed().as_nanos() as u64;
        self.set_stats(stats);
        Ok(())
    }

    /// Record `repeats` dispatches of one kernel of a forward of shape `dims` (T, B) into
    /// `encoder`, on the engine's buffers for that shape, whatever they hold: for benchmarks of
    /// single kernels; the results mean nothing.
    pub fn encode_kernel(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        dims: Dims,
        part: KernelPart,
        repeats: usize,
    ) -> Result<()> {
        let layer = match part {
            KernelPart::InputProjection { layer } | KernelPart::Step { layer } => layer,
        };
        if layer >= self.config.num_layers || dims.seq_len == 0 || dims.batch == 0 {
            return Err(Error::invalid(
                "encode_kernel",
                format!("{part:?} with {dims:?} is outside the model"),
            ));
        }
        let mut slot = pollster::block_on(self.workspace.lock());
        let ws = self.ready_workspace(&mut slot, dims)?;
        let variants = self.choose(ws, false, &mut ForwardStats::default())?;
        capture(&self.device, "encoding a kernel", || {
            // Full-length sequences, so every step does its work.
            ws.encode_lengths(&self.device, encoder, None);
            ws.record_kernel(encoder, &self.config, &self.pipelines, variants, part, repeats)
        })
    }

    async fn one_shot(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<Output> {
        let dims = check_request(&self.config, input, initial, seq_lens)?;
        let mut slot = self.workspace.lock().await;
        let ws = self.ready_workspace(&mut slot, dims)?;
        let mut stats = ForwardStats::default();
        let variants = self.choose(ws, true, &mut stats)?;
        stats.variants = variants;
        let cfg = &self.config;
        let sizes = Sizes::new(cfg, dims);
        let nl = cfg.num_layers as u64;
        let total = sizes.y + nl * (sizes.h + sizes.c);
        let timestamps = ws.timestamps.as_ref();
        let read_bytes = total + if timestamps.is_some() { TIMESTAMP_BYTES } else { 0 };
        let submission = capture(&self.device, "forward", || -> Result<_> {
            self.upload(ws, input, seq_lens, &mut stats);
            let state = &ws.own_state;
            match initial {
                Some(s) => state.set(&self.queue, s)?,
                None => state.reset(&self.queue),
            }
            stats.bytes_uploaded += nl * (sizes.h + sizes.c);
            let started = Instant::now();
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("lstm forward"),
                });
            ws.record(&mut encoder, cfg, &self.pipelines, variants, state, &mut stats);
            encoder.copy_buffer_to_buffer(&ws.y, ws.y_offset, &ws.staging, 0, sizes.y);
            encoder.copy_buffer_to_buffer(&state.h, 0, &ws.staging, sizes.y, nl * sizes.h);
            let c_at = sizes.y + nl * sizes.h;
            encoder.copy_buffer_to_buffer(&state.c, 0, &ws.staging, c_at, nl * sizes.c);
            if let Some(ts) = timestamps {
                encoder.copy_buffer_to_buffer(&ts.resolved, 0, &ws.staging, total, TIMESTAMP_BYTES);
            }
            let commands = encoder.finish();
            stats.record_ns = started.elapsed().as_nanos() as u64;
            stats.submits += 1;
            Ok(self.queue.submit([commands]))
        })??;
        let wait = wait.then_some(submission);
        let raw = readback::read_bytes(&self.device, &ws.staging, read_bytes, wait).await?;
        stats.readbacks += 1;
        stats.bytes_downloaded += read_bytes;
        if timestamps.is_some() {
            let tick = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
            let (start, end) = (tick(total as usize), tick(total as usize + 8));
            let period = self.queue.get_timestamp_period() as f64;
            stats.gpu_ns = Some((end.saturating_sub(start) as f64 * period) as u64);
        }
        self.set_stats(stats);
        let data: Vec<f32> = raw[..total as usize]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();

        let (out, hidden) = (cfg.output_size(), cfg.hidden_size);
        let slots = cfg.num_layers * cfg.num_directions() * dims.batch;
        let (y, rest) = data.split_at((sizes.y / 4) as usize);
        let (h_n, c_n) = rest.split_at(slots * out);
        Ok(Output {
            y: Tensor::new(y_shape(cfg, dims), y.to_vec())?,
            h_n: Tensor::new(state_shape(cfg, dims.batch, out), h_n.to_vec())?,
            c_n: Tensor::new(state_shape(cfg, dims.batch, hidden), c_n.to_vec())?,
        })
    }

    async fn stream(
        &self,
        input: &Tensor,
        state: &mut LstmState,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<Tensor> {
        let dims = crate::forward::check_input(&self.config, input)?;
        crate::forward::check_lengths(seq_lens, dims, Lengths::MayBeZero)?;
        self.check_state(state, dims.batch)?;
        let mut slot = self.workspace.lock().await;
        let ws = self.ready_workspace(&mut slot, dims)?;
        let sizes = Sizes::new(&self.config, dims);
        let mut stats = ForwardStats::default();
        let variants = self.choose(ws, true, &mut stats)?;
        stats.variants = variants;
        let submission = capture(&self.device, "stream step", || {
            self.upload(ws, input, seq_lens, &mut stats);
            let started = Instant::now();
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("lstm stream"),
                });
            ws.record(
                &mut encoder,
                &self.config,
                &self.pipelines,
                variants,
                state,
                &mut stats,
            );
            encoder.copy_buffer_to_buffer(&ws.y, ws.y_offset, &ws.staging, 0, sizes.y);
            let commands = encoder.finish();
            stats.record_ns = started.elapsed().as_nanos() as u64;
            stats.submits += 1;
            self.queue.submit([commands])
        })?;
        let y = readback::read(&self.device, &ws.staging, sizes.y, wait.then_some(submission)).await?;
        stats.readbacks += 1;
        stats.bytes_downloaded += sizes.y;
        self.set_stats(stats);
        Tensor::new(y_shape(&self.config, dims), y)
    }

    fn check_state(&self, state: &LstmState, batch: usize) -> Result<()> {
        let expected = StateShape::new(&self.config, batch);
        if state.shape != expected {
            let s = state.shape;
            return Err(Error::Shape {
                what: "LstmState".into(),
                expected: format!(
                    "L·D={} B={} P={} H={}",
                    expected.slots, expected.batch, expected.out, expected.hidden
                ),
                got: format!("L·D={} B={} P={} H={}", s.slots, s.batch, s.out, s.hidden),
            });
        }
        Ok(())
    }

    /// The workspace for `dims`, built (after checking the limits) if the shape changed.
    fn ready_workspace<'w>(&self, slot: &'w mut Option<Workspace>, dims: Dims) -> Result<&'w Workspace> {
        if slot.as_ref().is_none_or(|ws| ws.dims != dims) {
            *slot = None;
            let limits = self.device.limits();
            let align = limits.min_uniform_buffer_offset_alignment as u64;
            let param_stride = (std::mem::size_of::<StepParams>() as u64).div_ceil(align) * align;
            limits::check_request(&limits, &self.config, dims, param_stride)?;
            *slot = Some(capture(&self.device, "allocating buffers", || {
                Workspace::new(
                    &self.device,
                    &self.config,
                    &self.pipelines,
                    self.gemm,
                    &self.weights,
                    dims,
                    param_stride,
                )
            })?);
        }
        Ok(slot.as_ref().expect("workspace just built"))
    }

    /// Input and lengths through the queue (they land before the next submission).
    fn upload(&self, ws: &Workspace, input: &Tensor, seq_lens: Option<&[usize]>, stats: &mut ForwardStats) {
        let x: &[u8] = bytemuck::cast_slice(input.data());
        self.queue.write_buffer(&ws.x, 0, x);
        let lens = ws.lengths(seq_lens);
        self.queue.write_buffer(&ws.lens, 0, bytemuck::cast_slice(&lens));
        stats.bytes_uploaded += (x.len() + 4 * lens.len()) as u64;
    }

    fn set_stats(&self, stats: ForwardStats) {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
    }
}

/// A caller buffer must have the usage, a 4-byte aligned offset, and room for `bytes`.
fn check_buffer(
    name: &'static str,
    buffer: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> Result<()> {
    let fail = |requirement: String| Err(Error::Buffer { name, requirement });
    let names = |u: wgpu::BufferUsages| u.iter_names().map(|(n, _)| n).collect::<Vec<_>>().join(" | ");
    if !buffer.usage().contains(usage) {
        return fail(format!(
            "usage must include {} (has {})",
            names(usage),
            names(buffer.usage())
        ));
    }
    if !offset.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) {
        return fail(format!(
            "offset {offset} must be a multiple of {}",
            wgpu::COPY_BUFFER_ALIGNMENT
        ));
    }
    if offset.checked_add(bytes).is_none_or(|end| end > buffer.size()) {
        return fail(format!(
            "needs {bytes} bytes from offset {offset}, but the buffer has {} bytes",
            buffer.size()
        ));
    }
    Ok(())
}

/// Pack and upload the weights for the GEMM variant, the recurrent ones stacked for the wavefront
/// when `stacked`.
fn upload_weights(
    device: &wgpu::Device,
    config: &LstmConfig,
    weights: &LstmWeights,
    gemm: GemmVariant,
    stacked: bool,
) -> ModelWeights {
    let h = config.hidden_size;
    let n = config.num_directions() * 4 * h;
    let layers = weights.layers();
    let input = layers
        .iter()
        .enumerate()
        .map(|(l, dirs)| {
            let (w, bias) = packing::input_weights(dirs, h);
            let w = match gemm {
                GemmVariant::Tiled => w,
                GemmVariant::RegisterBlocked => packing::transposed(&w, n),
            };
            InputWeights {
                input_size: config.layer_input_size(l),
                w: storage_init(device, "input weights", &w),
                bias: storage_init(device, "bias", &bias),
            }
        })
        .collect();
    let (recurrent, r_first, r_stride) = if stacked {
        let (stacked, first, stride) = packing::stacked_weights(layers, h);
        (
            vec![storage_init(device, "stacked weights", &stacked)],
            first,
            stride,
        )
    } else {
        (
            layers
                .iter()
                .map(|dirs| storage_init(device, "recurrent weights", &packing::recurrent_weights(dirs, h)))
                .collect(),
            0,
            0,
        )
    };
    let projection = layers
        .iter()
        .filter_map(|dirs| packing::projection_weights(dirs, h))
        .map(|w| storage_init(device, "projection weights", &w))
        .collect();
    ModelWeights {
        input,
        recurrent,
        r_first,
        r_stride,
        projection,
    }
}

fn storage_init(device: &wgpu::Device, label: &'static str, data: &[f32]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE,
    })
}
