//! `Lstm`: the GPU engine. It borrows the caller's device and queue and keeps weights resident.
//! Every request (a one-shot forward, a streamed chunk, a forward recorded into the caller's
//! encoder) takes one path: check, plan, record, then submit and read back, or leave both to
//! the caller.

// The blocking entry points are native only (see `scope`); on the web their helpers go unused.
#![cfg_attr(target_arch = "wasm32", allow(dead_code, unused_imports))]

use std::sync::{Arc, Mutex};
use web_time::Instant;

use futures_intrusive::sync::Mutex as AsyncMutex;

use super::cache::PipelineCache;
use super::limits;
use super::model::ModelWeights;
use super::pipelines::EngineKernels;
use super::plan::{Buf, IoSizes, ModelPlan, Part, Plan, Resources, Target, TIMESTAMP_BYTES};
use super::readback;
use super::rows::{GatherSetting, IndexBuffers, IndexMoves, PoolGather, StateMoves, StateRows};
use super::scope::{self, capture};
use super::shaders;
use super::state::{LstmState, StateShape};
use super::stats::{ForwardStats, KernelPart, PassStats};
use super::tune::{self, GemmKey, StepKey, Tuning};
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
use super::workspace::Workspace;
use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::{
    check_forward_request, check_input, check_lengths, state_shape, y_shape, Dims, Lengths, LstmForward,
    Output, State,
};
use crate::tensor::Tensor;
use crate::weights::LstmWeights;

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
    kernels: EngineKernels,
    tuning: Arc<Tuning>,
    target: Target,
    /// Fixed variants instead of the autotune's.
    forced: Option<Variants>,
    weights: ModelWeights,
    workspace: AsyncMutex<Option<Workspace>>,
    stats: Mutex<ForwardStats>,
    /// How a stream pool's steps move their rows.
    gather: GatherSetting,
}

mod request;

use request::{Request, Sink, Source, StateRef};

impl Lstm {
    /// Build the engine on the caller's device: checks limits, compiles the kernels and uploads
    /// the weights once. (On the web: [`Lstm::new_async`].)
    #[cfg(not(target_arch = "wasm32"))]
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
    #[cfg(not(target_arch = "wasm32"))]
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
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_variants(
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
        variants: Option<Variants>,
    ) -> Result<Self> {
        Self::build(cache, queue, config, weights, variants, true)
    }

    /// [`Lstm::with_variants`] for the web (and anywhere nothing may block): errors come back
    /// through the error scopes' futures, and nothing is autotuned (forced `variants`, choices
    /// already in `cache`, or the defaults that [`Lstm::variants`] names).
    pub async fn new_async(
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
        variants: Option<Variants>,
    ) -> Result<Self> {
        scope::entry(cache.device(), "building the engine", async {
            Self::build(cache, queue, config, weights, variants, false)
        })
        .await
    }

    fn build(
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
        variants: Option<Variants>,
        may_tune: bool,
    ) -> Result<Self> {
        let device = cache.device();
        weights.check_config(config)?;
        if config.resets_before_product() && config.output_size() > shaders::STEP_SEQUENCE_MAX_P as usize {
            return Err(Error::invalid(
                "linear_before_reset 0",
                format!(
                    "a GRU without linear_before_reset runs on the GPU's sequence kernel, which holds h of at most \
                     {} values; this one has {} (run it on the CPU reference, --device cpu)",
                    shaders::STEP_SEQUENCE_MAX_P,
                    config.output_size()
                ),
            ));
        }
        let limits = device.limits();
        for kernel in shaders::inference() {
            limits::kernel(&limits, kernel)?;
        }
        // Stacked weights let the layers run as a wavefront, where the model allows it and they
        // fit the device. Sizes depend on the GEMM variant, chosen next, only for int8 weights.
        let shader_f16 = device.features().contains(wgpu::Features::SHADER_F16);
        let stacked = ModelPlan::new(config, GemmVariant::TILED, true, shader_f16)?;
        let mut model = if stacked.stacked && limits::model(&limits, &stacked).is_ok() {
            stacked
        } else {
            ModelPlan::new(config, GemmVariant::TILED, false, shader_f16)?
        };
        limits::model(&limits, &model)?;
        let kernels = EngineKernels::new(cache.pipelines(), config, model.format);
        let tuning = cache.tuning();
        // The GEMM variant fixes the input weights' layout, so it is chosen before they upload.
        let n = config.num_directions() * 4 * config.hidden_size;
        let key = GemmKey::new(config.input_size, n);
        let gemm = match variants {
            Some(v) => v.gemm,
            None if !may_tune => tuning.known_gemm(key).unwrap_or(GemmVariant::TILED),
            None => tuning.gemm(key, || {
                capture(device, "autotuning", || {
                    tune::gemm(device, queue, &kernels, config.input_size, n)
                })?
                .map(|(v, _)| v)
            })?,
        };
        model.set_gemm(config, gemm);
        limits::model(&limits, &model)?;
        let target = Target::of(device);
        let weights = capture(device, "uploading the weights", || {
            ModelWeights::upload(device, weights, model)
        })?;
        let lstm = Lstm {
            device: device.clone(),
            queue: queue.clone(),
            config: config.clone(),
            kernels,
            tuning,
            target,
            forced: variants,
            weights,
            workspace: AsyncMutex::new(None, true),
            gather: GatherSetting::default(),
            stats: Mutex::new(ForwardStats::new(Variants {
                gemm: GemmVariant::TILED,
                step: StepVariant::Batch1,
                schedule: Schedule::Layers,
            })),
        };
        // What does not grow with T and B (the step grids over H, say) is refused now.
        let probe = Dims { seq_len: 1, batch: 1 };
        let resources = lstm.resources(probe)?;
        limits::plan(&limits, &resources.plan(lstm.variants(probe)))?;
        Ok(lstm)
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

    /// The kernels the engine runs at shape `dims`: forced, chosen by the autotune so far, or,
    /// before any choice, what an encode into the caller's encoder uses (which cannot tune):
    /// one batch element per invocation below a batch of 4 and four above, layer by layer.
    pub fn variants(&self, dims: Dims) -> Variants {
        let gemm = self.weights.plan.gemm;
        let chosen = self.forced.unwrap_or_else(|| {
            let (step, schedule) = self
                .tuning
                .known_step(&self.step_key(dims))
                .unwrap_or((StepVariant::untuned(dims.batch), Schedule::Layers));
            Variants { gemm, step, schedule }
        });
        chosen.fitted(self.weights.plan.stacked, &self.config)
    }

    /// What the autotune timed when it chose the step kernels for shape `dims` on this device,
    /// in this process or read from a tune cache: ms per layer of each step variant (by name),
    /// then, where the model can run as a wavefront, each schedule's forward. `None` where the
    /// kernels were forced, nothing was chosen yet, or the choice came from a file without times.
    pub fn autotune_times(&self, dims: Dims) -> Option<Vec<(String, f64)>> {
        if self.forced.is_some() {
            return None;
        }
        self.tuning.step_times(&self.step_key(dims))
    }

    /// Whether a forward of shape `dims` fits the device: every buffer it needs and, with the
    /// kernels that would run now, every dispatch. Nothing is allocated, so a caller can ask
    /// before it builds a large input.
    pub fn check_dims(&self, dims: Dims) -> Result<()> {
        let resources = self.resources(dims)?;
        limits::plan(&self.device.limits(), &resources.plan(self.variants(dims)))
    }

    /// Bytes of the resident weights: W, R and W_hr in the configuration's precision, biases
    /// as f32 (so f16 weights take about half of what f32 ones do).
    pub fn weight_bytes(&self) -> u64 {
        self.weights.plan.weights.iter().map(|w| w.bytes).sum()
    }

    /// Bytes of weights the recurrent kernels read per timestep at shape `dims` with the kernels
    /// that run there, as the plan models them (see `bench`).
    pub fn weight_bytes_per_step(&self, dims: Dims) -> Result<u64> {
        let resources = self.resources(dims)?;
        let plan = resources.plan(self.variants(dims));
        Ok(resources.weight_bytes_per_step(&plan))
    }

    /// Read a state back to the host (one submission and one map). (On the web:
    /// [`Lstm::read_state_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_state(&self, state: &LstmState) -> Result<State> {
        pollster::block_on(StateRows::Whole(state).read(&self.device, &self.queue, true))
    }

    /// [`Lstm::read_state`] as a future; see [`Lstm::forward_async`] about polling.
    pub async fn read_state_async(&self, state: &LstmState) -> Result<State> {
        scope::entry(
            &self.device,
            "reading the state",
            StateRows::Whole(state).read(&self.device, &self.queue, false),
        )
        .await
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
        let (h, c) = (shape.h_bytes()?, shape.c_bytes()?);
        limits::storage_buffer(&self.device.limits(), h.max(c), "")?;
        capture(&self.device, "allocating the state", || {
            LstmState::new(&self.device, shape, h, c)
        })
    }

    /// [`Lstm::new_state`] with errors through the error scopes' futures (for the web).
    pub async fn new_state_async(&self, batch: usize) -> Result<LstmState> {
        scope::entry(&self.device, "allocating the state", async {
            self.new_state(batch)
        })
        .await
    }

    /// A GPU-resident state holding `initial` (its batch is that of `initial`).
    pub fn state_from(&self, initial: &State) -> Result<LstmState> {
        let state = self.new_state(initial.h.shape().get(1).copied().unwrap_or(0))?;
        state.set(&self.queue, initial)?;
        Ok(state)
    }

    /// Run every sequence to length T.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward(&self, input: &Tensor, initial: Option<&State>) -> Result<Output> {
        self.forward_with_lens(input, initial, None)
    }

    /// Run with per-sequence lengths (`seq_lens[b]` in 0..=T); `None` means all T. Blocks until
    /// the outputs are read back. (On the web: [`Lstm::forward_async`].)
    #[cfg(not(target_arch = "wasm32"))]
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
    /// reverse direction runs within the chunk. (On the web: [`Lstm::forward_stream_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_stream(
        &self,
        input: &Tensor,
        state: &mut LstmState,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        pollster::block_on(self.stream(input, StateRows::Whole(state), seq_lens, true))
    }

    /// [`Lstm::forward_stream`] as a future; see [`Lstm::forward_async`] about polling.
    pub async fn forward_stream_async(
        &self,
        input: &Tensor,
        state: &mut LstmState,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        self.stream(input, StateRows::Whole(state), seq_lens, false).await
    }

    /// A step of a stream pool: stream b of `input` is row `slots[b]` of `pool` (distinct rows).
    /// The rows are copied into the forward's working state, run, and copied back in the
    /// forward's own submission, so a step is one submission and one readback; the rows of
    /// `pool` not named are untouched.
    pub(crate) async fn pool_stream(
        &self,
        input: &Tensor,
        pool: &mut LstmState,
        slots: &[usize],
        seq_lens: &[usize],
        wait: bool,
    ) -> Result<Tensor> {
        let rows = StateRows::Rows { pool, slots };
        self.stream(input, rows, Some(seq_lens), wait).await
    }

    /// How a [`StreamPool`](crate::StreamPool) over this engine moves its streams' states at
    /// each step (default [`PoolGather::Auto`]); for measuring one way against the other.
    pub fn set_pool_gather(&self, gather: PoolGather) {
        self.gather.set(gather)
    }

    pub fn pool_gather(&self) -> PoolGather {
        self.gather.get()
    }

    /// Rows `slots` of `pool` on the host (one submission and one map).
    pub(crate) async fn read_rows(&self, pool: &LstmState, slots: &[usize], wait: bool) -> Result<State> {
        self.check_rows(StateRows::Rows { pool, slots }, slots.len())?;
        let read = StateRows::Rows { pool, slots }.read(&self.device, &self.queue, wait);
        scope::entry(&self.device, "reading the state", read).await
    }

    /// Record a forward of one chunk into the caller's encoder, from and to the caller's buffers
    /// (see [`EncodeTarget`]). Nothing is submitted or mapped; the caller submits. Buffers are
    /// checked first and a wrong size, usage or alignment is an error naming the buffer.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        state: &mut LstmState,
        target: &EncodeTarget<'_>,
    ) -> Result<()> {
        let dims = Dims {
            seq_len: target.seq_len,
            batch: target.batch,
        };
        if dims.seq_len == 0 || dims.batch == 0 {
            return Err(Error::invalid("encode", "seq_len and batch must be at least 1"));
        }
        check_lengths(target.seq_lens, dims, Lengths::MayBeZero)?;
        self.check_state(state, dims.batch)?;
        let request = Request {
            dims,
            source: Source::Caller(target.input, target.input_offset),
            seq_lens: target.seq_lens,
            state: StateRef::Stream(StateRows::Whole(state)),
            sink: Sink::Caller(target),
        };
        pollster::block_on(self.run(request, Some(encoder), false)).map(drop)
    }

    /// Record `repeats` dispatches of one kernel of a forward of shape `dims` (T, B) into
    /// `encoder`, on the engine's buffers for that shape, whatever they hold: for benchmarks of
    /// single kernels; the results mean nothing.
    #[cfg(not(target_arch = "wasm32"))]
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
        let variants = self.variants(dims);
        let (variants, part) = match (part, variants.schedule) {
            // Under the wavefront only layer 0 has a GEMM dispatch; the others' are the same
            // kernel, as layer by layer.
            (KernelPart::InputProjection { layer }, _) => (
                Variants {
                    schedule: Schedule::Layers,
                    ..variants
                },
                Part::InputProjection { layer },
            ),
            (KernelPart::Step { layer }, Schedule::Layers) if variants.step.whole_sequence() => {
                (variants, Part::Sequence { layer })
            }
            (KernelPart::Step { layer }, Schedule::Layers) => (variants, Part::Step { layer, step: 0 }),
            (KernelPart::Step { layer }, Schedule::Wavefront) => (variants, Part::Wavefront { k: layer }),
        };
        let plan = self.checked_plan(ws, variants)?;
        let dispatch = plan.find(part).expect("every layer has its parts");
        let pipeline = self.kernels.get(dispatch.kernel)?;
        capture(&self.device, "encoding a kernel", || {
            // Full-length sequences, so every step does its work.
            ws.encode_lengths(&self.device, encoder, None);
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("lstm kernel"),
                timestamp_writes: None,
            });
            ws.dispatch_repeated(&mut pass, dispatch, &pipeline, repeats)
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl LstmForward for Lstm {
    type Stream = LstmState;

    fn config(&self) -> &LstmConfig {
        &self.config
    }

    fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        Lstm::forward_with_lens(self, input, initial, seq_lens)
    }

    fn start_stream(&self, initial: &State) -> Result<LstmState> {
        self.state_from(initial)
    }

    fn forward_stream(
        &self,
        input: &Tensor,
        stream: &mut LstmState,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        Lstm::forward_stream(self, input, stream, seq_lens)
    }

    fn stream_state(&self, stream: &LstmState) -> Result<State> {
        self.read_state(stream)
    }
}
