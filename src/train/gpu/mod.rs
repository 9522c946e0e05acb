//! Training on the GPU: [`TrainLstm`] keeps a model's weights resident in one flat f32 buffer
//! (`ParamLayout`), runs a forward that leaves a [`Tape`] on the device, and backpropagates
//! through time from it; [`Trainer`] updates the weights in place with SGD or Adam.
//!
//! Per layer, the forward is one GEMM per direction (the hoisted input projection over all
//! timesteps) and one sequence kernel for both directions (a workgroup per direction and
//! sequence, looping over the steps). The backward is one fused reverse-time sequence kernel
//! per layer (elementwise gate derivatives plus Rᵀ·dgates of the step after, both directions),
//! then GEMMs over all timesteps at once: dW, dR, db (and dW_hr, the peepholes) per direction,
//! and dx. Each of forward, backward and optimizer step is one submission; the tape, the
//! gradients and the optimizer's moments stay on the device until read.
//!
//! The tape keeps the gate pre-activations (before clip), c_t, c_{t−1}, h_{t−1} and, with a
//! projection, o⊙h(c_t); the backward recomputes the gate values from them.

mod backward;
mod forward;
mod kernels;
mod record;
mod tape;
mod trainer;
mod workspace;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::backend::gpu::cache::PipelineCache;
use crate::backend::gpu::pipelines::Pipelines;
use kernels::{ActivationParams, Params, SeqParams, TrainKernel, SEQ_GROUP};
use record::{Recorder, View};
use tape::TapePlan;
pub use trainer::Trainer;
use workspace::{take_or_allocate, Spare, TrainBuf, TrainWorkspace};

use crate::backend::gpu::plan::Usage;
use crate::backend::gpu::shaders::TRAINING;
use crate::backend::gpu::stats::{PassStats, TrainStats};
use crate::backend::gpu::workspace::allocate;
use crate::backend::gpu::{
    limits, readback,
    scope::{self, capture},
};
use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::{check_request, state_shape, y_shape, Dims, Output, State};
use crate::tensor::Tensor;
use crate::train::{check_output_grads, check_trainable, Gradients, ParamLayout};
use crate::weights::LstmWeights;

const F32: u64 = 4;

/// An LSTM whose weights live on the GPU in the trainable layout.
pub struct TrainLstm {
    device: wgpu::Device,
    queue: wgpu::Queue,
    config: LstmConfig,
    layout: ParamLayout,
    params: wgpu::Buffer,
    pipelines: Arc<Pipelines>,
    stats: Mutex<TrainStats>,
    /// Tells its tapes from other models'.
    id: u64,
    /// Bumped by every optimizer step: a tape recorded before it no longer describes the weights.
    version: AtomicU64,
    /// The buffers of the last shape, between tapes.
    spare: Spare,
}

static NEXT_MODEL: AtomicU64 = AtomicU64::new(0);

/// What the backward needs of a forward, resident on the device ([`TrainLstm::forward_train`]).
/// It holds the buffers of its shape; dropping it gives them back to its model for the next
/// forward of that shape.
pub struct Tape {
    /// The model that recorded it, and the version of its weights then.
    model: u64,
    version: u64,
    dims: Dims,
    plan: TapePlan,
    /// The tape and the backward's buffers (always present until dropped), locked while a
    /// backward or optimizer step records and submits.
    ws: Mutex<Option<TrainWorkspace>>,
    spare: Spare,
}

impl Tape {
    pub fn dims(&self) -> Dims {
        self.dims
    }

    fn workspace(&self) -> std::sync::MutexGuard<'_, Option<TrainWorkspace>> {
        self.ws.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Tape {
    fn drop(&mut self) {
        let ws = self.ws.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        *self.spare.lock().unwrap_or_else(|e| e.into_inner()) = ws;
    }
}

/// A training pass of `dispatches` that uploaded `uploaded` f32s, submitted once, and read
/// `read` f32s back if any.
fn counted(dispatches: u32, uploaded: usize, read: Option<usize>) -> PassStats {
    let mut pass = PassStats::planned(dispatches as usize);
    pass.upload(uploaded as u64 * F32);
    pass.submit();
    if let Some(read) = read {
        pass.read_back(read as u64 * F32);
    }
    pass
}

/// What a refusal of a request's size suggests.
const REQUEST_HINT: &str = "; use a smaller batch or sequence";

/// Create a storage buffer of `len` f32s (the model's weights, an optimizer's state) after
/// checking it against the device's limits.
fn storage(device: &wgpu::Device, label: &'static str, len: usize) -> Result<wgpu::Buffer> {
    let bytes = workspace::f32_bytes(label, len)?;
    workspace::check(&device.limits(), bytes, Usage::Storage)?;
    Ok(allocate(device, label, bytes, Usage::Storage))
}

/// Copy `len` f32s from `src` at `from` to `dst` at `to`.
fn copy(
    encoder: &mut wgpu::CommandEncoder,
    src: &wgpu::Buffer,
    from: usize,
    dst: &wgpu::Buffer,
    to: usize,
    len: usize,
) {
    if len > 0 {
        encoder.copy_buffer_to_buffer(src, from as u64 * F32, dst, to as u64 * F32, len as u64 * F32);
    }
}

impl TrainLstm {
    /// `weights` resident on `device`, trainable. Refuses what training does not support
    /// ([`check_trainable`]).
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
    ) -> Result<Self> {
        Self::with_cache(&PipelineCache::new(device), queue, config, weights)
    }

    /// Like [`TrainLstm::new`] on the cache's device, taking compiled pipelines from (and adding
    /// them to) `cache`, which inference engines ([`Lstm::with_cache`](crate::gpu::Lstm::with_cache))
    /// share too. The kernels compile when a pass first records them.
    pub fn with_cache(
        cache: &PipelineCache,
        queue: &wgpu::Queue,
        config: &LstmConfig,
        weights: &LstmWeights,
    ) -> Result<Self> {
        let device = cache.device();
        check_trainable(config)?;
        weights.check_config(config)?;
        let device_limits = device.limits();
        for kernel in TRAINING {
            limits::kernel(&device_limits, kernel)?;
        }
        let layout = ParamLayout::new(config)?;
        let pipelines = cache.pipelines();
        let flat = layout.flatten(weights);
        let params = capture(device, "uploading the weights", || {
            let params = storage(device, "trainable weights", layout.len)?;
            queue.write_buffer(&params, 0, bytemuck::cast_slice(&flat));
            Ok::<_, Error>(params)
        })??;
        Ok(TrainLstm {
            device: device.clone(),
            queue: queue.clone(),
            config: config.clone(),
            layout,
            params,
            pipelines,
            stats: Mutex::new(TrainStats::default()),
            id: NEXT_MODEL.fetch_add(1, Ordering::Relaxed),
            version: AtomicU64::new(0),
            spare: Spare::default(),
        })
    }

    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// Number of trainable weights.
    pub fn num_weights(&self) -> usize {
        self.layout.len
    }

    /// What the last forward, backward and optimizer step did.
    pub fn last_stats(&self) -> TrainStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_stats(&self, f: impl FnOnce(&mut TrainStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The current weights, read back. (On the web: [`TrainLstm::weights_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn weights(&self) -> Result<LstmWeights> {
        pollster::block_on(self.read_weights(true))
    }

    /// [`TrainLstm::weights`] as a future (see [`Lstm::forward_async`](crate::Lstm::forward_async)
    /// about polling).
    pub async fn weights_async(&self) -> Result<LstmWeights> {
        self.read_weights(false).await
    }

    async fn read_weights(&self, wait: bool) -> Result<LstmWeights> {
        scope::entry(&self.device, "reading the weights", async {
            let (encoder, staging) = capture(&self.device, "reading the weights", || {
                let bytes = self.layout.len.max(1) as u64 * F32;
                let staging = allocate(&self.device, "weights readback", bytes, Usage::Staging);
                let mut encoder = self.device.create_command_encoder(&Default::default());
                copy(&mut encoder, &self.params, 0, &staging, 0, self.layout.len);
                (encoder, staging)
            })?;
            let flat = self
                .submit_and_read(encoder, &staging, self.layout.len, wait)
                .await?;
            self.layout.unflatten(&self.config, &flat)
        })
        .await
    }

    /// Submit `encoder` and read `len` f32s of `staging` back; `wait` blocks until the GPU is
    /// done (natively), else the future resolves when the device is polled.
    async fn submit_and_read(
        &self,
        encoder: wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        len: usize,
        wait: bool,
    ) -> Result<Vec<f32>> {
        let submission = capture(&self.device, "running a training pass", || {
            self.queue.submit([encoder.finish()])
        })?;
        readback::read(
            &self.device,
            staging,
            len as u64 * F32,
            wait.then_some(submission),
        )
        .await
    }

    /// The sequence kernels' parameters for layer `l` that forward and backward share; each
    /// sets its state and work offsets.
    fn seq_params(&self, plan: &TapePlan, dims: Dims, l: usize) -> Result<SeqParams> {
        let cfg = &self.config;
        let nd = cfg.num_directions();
        let (stride_t, stride_b) = match cfg.layout {
            crate::config::Layout::SeqMajor => (dims.batch, 1),
            crate::config::Layout::BatchMajor => (1, dims.seq_len),
        };
        let rec = plan.layers[l];
        let flag = |on: bool, flag: u32| if on { flag } else { 0 };
        let mut p = SeqParams {
            seq_len: offset(dims.seq_len)?,
            batch: offset(dims.batch)?,
            hidden: offset(cfg.hidden_size)?,
            out: offset(cfg.output_size())?,
            dirs: nd as u32,
            reverse_mask: (0..nd).map(|d| (cfg.direction.is_reversed(d) as u32) << d).sum(),
            stride_t: offset(stride_t)?,
            stride_b: offset(stride_b)?,
            input_forget: cfg.input_forget as u32,
            clip: cfg.clip.unwrap_or(0.0),
            flags: flag(cfg.bias, SeqParams::FLAG_BIAS)
                | flag(cfg.peepholes, SeqParams::FLAG_PEEPHOLE)
                | flag(cfg.proj_size.is_some(), SeqParams::FLAG_PROJECTION)
                | flag(cfg.resets_before_product(), SeqParams::FLAG_RESET_BEFORE),
            state_slot: offset(l * nd * dims.batch)?,
            t_y: offset(rec.y)?,
            t_z: offset(rec.z)?,
            t_c: offset(rec.c)?,
            t_cprev: offset(rec.c_prev)?,
            t_hprev: offset(rec.h_prev)?,
            t_m: offset(rec.m)?,
            ..SeqParams::default()
        };
        for d in 0..nd {
            let slot = &self.layout.slots[l * nd + d];
            let at = |r: Option<&std::ops::Range<usize>>| offset(r.map_or(0, |r| r.start));
            p.w_hh[d] = offset(slot.w_hh.start)?;
            p.b_ih[d] = at(slot.b_ih.as_ref())?;
            p.b_hh[d] = at(slot.b_hh.as_ref())?;
            p.peep[d] = at(slot.peephole.as_ref())?;
            p.w_hr[d] = at(slot.w_hr.as_ref())?;
            for (k, a) in cfg.activations_of(d).iter().enumerate() {
                p.act[3 * d + k] = ActivationParams {
                    kind: a.kind.id(),
                    alpha: a.alpha,
                    beta: a.beta,
                    _pad: 0,
                };
            }
        }
        Ok(p)
    }
}

/// An offset or size as the kernels index it: 32 bits.
fn offset(v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Overflow {
        what: "the training buffers (offsets index with 32 bits on the GPU)".into(),
    })
}
