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

mod kernels;
mod record;
mod trainer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::backend::gpu::cache::PipelineCache;
use crate::backend::gpu::pipelines::Pipelines;
use kernels::{seq, TrainKernel, SEQ_GROUP, WORDS};
use record::{Recorder, View};
pub use trainer::Trainer;

use crate::backend::gpu::shaders::TRAINING;
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

/// What a training pass did, counted from its list of dispatches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub dispatches: u32,
    pub submits: u32,
    pub readbacks: u32,
    pub bytes_uploaded: u64,
    pub bytes_downloaded: u64,
}

impl PassStats {
    /// One submission of `dispatches` and one readback of `downloaded` f32s, after uploading
    /// `uploaded` f32s.
    fn read_once(dispatches: u32, uploaded: usize, downloaded: usize) -> PassStats {
        PassStats {
            dispatches,
            submits: 1,
            readbacks: 1,
            bytes_uploaded: uploaded as u64 * F32,
            bytes_downloaded: downloaded as u64 * F32,
        }
    }
}

/// The last forward, backward and optimizer step of a [`TrainLstm`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainStats {
    pub forward: PassStats,
    pub backward: PassStats,
    /// The optimizer's dispatches are counted here; a [`Trainer::step`] records the backward
    /// and the update in one submission (counted under `backward`).
    pub optimizer: PassStats,
}

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
}

static NEXT_MODEL: AtomicU64 = AtomicU64::new(0);

/// What the backward needs of a forward, resident on the device ([`TrainLstm::forward_train`]).
pub struct Tape {
    /// The model that recorded it, and the version of its weights then.
    model: u64,
    version: u64,
    dims: Dims,
    plan: TapePlan,
    tape: wgpu::Buffer,
    lens: wgpu::Buffer,
}

impl Tape {
    pub fn dims(&self) -> Dims {
        self.dims
    }
}

/// Offsets (in f32s) of one layer's record in the tape.
#[derive(Clone, Copy, Debug)]
struct LayerRecord {
    input: usize,
    y: usize,
    z: usize,
    c: usize,
    c_prev: usize,
    h_prev: usize,
    m: usize,
}

/// Sizes and offsets of a forward's and backward's buffers for one (T, B), all checked.
#[derive(Clone, Debug)]
struct TapePlan {
    rows: usize,
    layers: Vec<LayerRecord>,
    tape_len: usize,
    /// f32s of one region of the state buffer: L·D·B·P for h, L·D·B·H for c.
    h_states: usize,
    c_states: usize,
    xp_len: usize,
    /// One layer's recurrent and projection weights transposed, per direction: Rᵀ `[P][4H]`,
    /// then W_hrᵀ `[H][P]`.
    packed_len: usize,
    /// Sequences per workgroup of the sequence kernels (1 below a batch of SEQ_GROUP), and their
    /// workgroups: D × groups.
    group: usize,
    sequence_groups: usize,
    /// The backward's work buffer: dgates, dh, the dc carry and the peephole sums.
    work_dg: usize,
    work_dh: usize,
    work_dcarry: usize,
    work_peep: usize,
    work_len: usize,
    /// Each of the two buffers dL/dy passes through between layers.
    dy_len: usize,
}

fn checked(what: &str, factors: &[usize]) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |a, &f| a.checked_mul(f))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

struct Offsets(usize);

impl Offsets {
    fn take(&mut self, n: usize) -> Result<usize> {
        let at = self.0;
        self.0 = at.checked_add(n).ok_or_else(|| Error::Overflow {
            what: "the training tape".into(),
        })?;
        Ok(at)
    }
}

impl TapePlan {
    fn new(config: &LstmConfig, dims: Dims) -> Result<TapePlan> {
        let what = "the training tape";
        let (h, p, nd) = (config.hidden_size, config.output_size(), config.num_directions());
        let rows = checked(what, &[dims.seq_len, dims.batch])?;
        let mut tape = Offsets(0);
        let x0 = tape.take(checked(what, &[rows, config.input_size])?)?;
        let mut layers = Vec::new();
        let mut input = x0;
        for _ in 0..config.num_layers {
            let y = tape.take(checked(what, &[rows, nd, p])?)?;
            let z = tape.take(checked(what, &[rows, nd, 4, h])?)?;
            let c = tape.take(checked(what, &[rows, nd, h])?)?;
            let c_prev = tape.take(checked(what, &[rows, nd, h])?)?;
            let h_prev = tape.take(checked(what, &[rows, nd, p])?)?;
            let m = if config.proj_size.is_some() {
                tape.take(checked(what, &[rows, nd, h])?)?
            } else {
                0
            };
            layers.push(LayerRecord {
                input,
                y,
                z,
                c,
                c_prev,
                h_prev,
                m,
            });
            input = y;
        }
        let slots = checked(what, &[config.num_layers, nd, dims.batch])?;
        let group = if dims.batch >= SEQ_GROUP { SEQ_GROUP } else { 1 };
        let mut work = Offsets(0);
        let work_dg = work.take(checked(what, &[rows, nd, 4, h])?)?;
        let work_dh = work.take(checked(what, &[rows, nd, p])?)?;
        let work_dcarry = work.take(checked(what, &[nd, dims.batch, h])?)?;
        let work_peep = work.take(checked(what, &[nd, dims.batch, 3, h])?)?;
        Ok(TapePlan {
            rows,
            layers,
            tape_len: tape.0,
            h_states: checked(what, &[slots, p])?,
            c_states: checked(what, &[slots, h])?,
            xp_len: checked(what, &[rows, nd, 4, h])?,
            packed_len: checked(what, &[nd, p, 5, h])?,
            group,
            sequence_groups: checked(what, &[nd, dims.batch.div_ceil(group)])?,
            work_dg,
            work_dh,
            work_dcarry,
            work_peep,
            work_len: work.0,
            dy_len: checked(what, &[rows, config.input_size.max(nd * p)])?,
        })
    }

    /// h0, c0, h_n, c_n (or their gradients): offsets in the state buffer, and its length.
    fn states(&self) -> ([usize; 4], usize) {
        let (hs, cs) = (self.h_states, self.c_states);
        ([0, hs, hs + cs, 2 * hs + cs], 2 * (hs + cs))
    }
}

/// Create a storage buffer of `len` f32s after checking it against the device's limits.
fn storage(
    device: &wgpu::Device,
    label: &'static str,
    len: usize,
    extra: wgpu::BufferUsages,
) -> Result<wgpu::Buffer> {
    let bytes = (len.max(1) as u64)
        .checked_mul(F32)
        .ok_or_else(|| Error::Overflow { what: label.into() })?;
    limits::storage_buffer(&device.limits(), bytes, "; use a smaller batch or sequence")?;
    Ok(device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | extra,
        mapped_at_creation: false,
    }))
}

fn staging(device: &wgpu::Device, len: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("training readback"),
        size: (len.max(1) as u64) * F32,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
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

/// The backward's buffers, kept for the optimizer when a [`Trainer`] records both.
pub(crate) struct BackwardBuffers {
    /// Every weight's gradient, in the flat layout.
    grads: wgpu::Buffer,
    /// dL/dy between layers in two buffers taking turns: `dx` ends up holding dL/dx of the
    /// first layer (the top layer reads dy from `other` with an odd number of layers).
    dx: wgpu::Buffer,
    other: wgpu::Buffer,
    /// dh_n, dc_n in; dh0, dc0 out.
    dstate: wgpu::Buffer,
    /// dgates, dh, the dc carry and the peephole sums (`TapePlan::work_*`).
    work: wgpu::Buffer,
    /// A single 1.0: the row of ones the bias and peephole sums multiply by.
    one: wgpu::Buffer,
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
            let params = storage(
                device,
                "trainable weights",
                layout.len,
                wgpu::BufferUsages::COPY_SRC,
            )?;
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
                let staging = staging(&self.device, self.layout.len);
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

    /// The sequence-kernel words shared by forward and backward for layer `l`.
    fn seq_words(&self, plan: &TapePlan, dims: Dims, l: usize) -> Result<[u32; WORDS]> {
        let cfg = &self.config;
        let nd = cfg.num_directions();
        let mut w = [0u32; WORDS];
        let (stride_t, stride_b) = match cfg.layout {
            crate::config::Layout::SeqMajor => (dims.batch, 1),
            crate::config::Layout::BatchMajor => (1, dims.seq_len),
        };
        let rec = plan.layers[l];
        let flags = (cfg.bias as u32 * seq::FLAG_BIAS)
            | (cfg.peepholes as u32 * seq::FLAG_PEEPHOLE)
            | (cfg.proj_size.is_some() as u32 * seq::FLAG_PROJECTION);
        let words: [(usize, usize); 17] = [
            (seq::SEQ_LEN, dims.seq_len),
            (seq::BATCH, dims.batch),
            (seq::HIDDEN, cfg.hidden_size),
            (seq::OUT, cfg.output_size()),
            (seq::DIRS, nd),
            (
                seq::REVERSE_MASK,
                (0..nd)
                    .map(|d| (cfg.direction.is_reversed(d) as usize) << d)
                    .sum(),
            ),
            (seq::STRIDE_T, stride_t),
            (seq::STRIDE_B, stride_b),
            (seq::INPUT_FORGET, cfg.input_forget as usize),
            (seq::STATE_SLOT, l * nd * dims.batch),
            (seq::T_Y, rec.y),
            (seq::T_Z, rec.z),
            (seq::T_C, rec.c),
            (seq::T_CPREV, rec.c_prev),
            (seq::T_HPREV, rec.h_prev),
            (seq::T_M, rec.m),
            (seq::FLAGS, flags as usize),
        ];
        for (i, v) in words {
            w[i] = u32::try_from(v).map_err(|_| Error::Overflow {
                what: "the training tape (32-bit offsets)".into(),
            })?;
        }
        w[seq::CLIP] = cfg.clip.unwrap_or(0.0).to_bits();
        for d in 0..nd {
            let slot = &self.layout.slots[l * nd + d];
            let at = |r: Option<&std::ops::Range<usize>>| r.map_or(0, |r| r.start as u32);
            w[seq::P_W_HH + d] = slot.w_hh.start as u32;
            w[seq::P_B_IH + d] = at(slot.b_ih.as_ref());
            w[seq::P_B_HH + d] = at(slot.b_hh.as_ref());
            w[seq::P_PEEP + d] = at(slot.peephole.as_ref());
            w[seq::P_W_HR + d] = at(slot.w_hr.as_ref());
            for (k, a) in cfg.activations_of(d).iter().enumerate() {
                let base = seq::ACT + 9 * d + 3 * k;
                w[base] = a.kind.id();
                w[base + 1] = a.alpha.to_bits();
                w[base + 2] = a.beta.to_bits();
            }
        }
        Ok(w)
    }

    /// A forward that leaves on the device what [`TrainLstm::backward`] needs, returning the
    /// outputs (one submission, one readback). (On the web: [`TrainLstm::forward_train_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_train(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<(Output, Tape)> {
        pollster::block_on(self.forward_scoped(input, initial, seq_lens, true))
    }

    /// [`TrainLstm::forward_train`] as a future (see
    /// [`Lstm::forward_async`](crate::Lstm::forward_async) about polling).
    pub async fn forward_train_async(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<(Output, Tape)> {
        self.forward_scoped(input, initial, seq_lens, false).await
    }

    async fn forward_scoped(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<(Output, Tape)> {
        scope::entry(
            &self.device,
            "the training forward",
            self.forward_inner(input, initial, seq_lens, wait),
        )
        .await
    }

    async fn forward_inner(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<(Output, Tape)> {
        let cfg = &self.config;
        let dims = check_request(cfg, input, initial, seq_lens)?;
        let plan = TapePlan::new(cfg, dims)?;
        let (nd, h, p) = (cfg.num_directions(), cfg.hidden_size, cfg.output_size());
        let device = &self.device;
        let (states, state_len) = plan.states();
        let y_len = plan.rows * nd * p;
        let out_len = y_len + plan.h_states + plan.c_states;
        let lens: Vec<u32> = match seq_lens {
            Some(l) => l.iter().map(|&v| v as u32).collect(),
            None => vec![dims.seq_len as u32; dims.batch],
        };
        let (encoder, staging, tape, dispatches, uploaded) =
            capture(device, "the training forward", || -> Result<_> {
                let tape = storage(
                    device,
                    "training tape",
                    plan.tape_len,
                    wgpu::BufferUsages::COPY_SRC,
                )?;
                let state = storage(device, "training state", state_len, wgpu::BufferUsages::COPY_SRC)?;
                let xp = storage(
                    device,
                    "training input projection",
                    plan.xp_len,
                    wgpu::BufferUsages::empty(),
                )?;
                let packed = storage(
                    device,
                    "transposed weights",
                    plan.packed_len,
                    wgpu::BufferUsages::empty(),
                )?;
                let lens_buf = storage(
                    device,
                    "sequence lengths",
                    dims.batch,
                    wgpu::BufferUsages::empty(),
                )?;
                let staging = staging(device, out_len);
                let mut uploaded = input.data().len() + lens.len();
                self.queue
                    .write_buffer(&tape, 0, bytemuck::cast_slice(input.data()));
                self.queue.write_buffer(&lens_buf, 0, bytemuck::cast_slice(&lens));
                if let Some(s) = initial {
                    self.queue
                        .write_buffer(&state, 0, bytemuck::cast_slice(s.h.data()));
                    self.queue.write_buffer(
                        &state,
                        (states[1] as u64) * F32,
                        bytemuck::cast_slice(s.c.data()),
                    );
                    uploaded += s.h.data().len() + s.c.data().len();
                }
                let mut rec = Recorder::new(&device.limits());
                for (l, layer) in plan.layers.iter().enumerate() {
                    let inp = cfg.layer_input_size(l);
                    for d in 0..nd {
                        let slot = &self.layout.slots[l * nd + d];
                        // XP[row, d·4H + r] = Σ_i X[row, i]·W[r, i]
                        rec.gemm(
                            (plan.rows, 4 * h, inp),
                            (&tape, View::rows(layer.input, inp)),
                            (&self.params, View::transposed(slot.w_ih.start, inp)),
                            (&xp, d * 4 * h, nd * 4 * h),
                            false,
                        )?;
                    }
                    for d in 0..nd {
                        let slot = &self.layout.slots[l * nd + d];
                        let at = d * 5 * h * p;
                        rec.transpose((4 * h, p), (&self.params, slot.w_hh.start), (&packed, at))?;
                        if let Some(w_hr) = &slot.w_hr {
                            rec.transpose((p, h), (&self.params, w_hr.start), (&packed, at + 4 * h * p))?;
                        }
                    }
                    let mut w = self.seq_words(&plan, dims, l)?;
                    for (i, at) in [seq::H0, seq::C0, seq::HN, seq::CN].into_iter().zip(states) {
                        w[i] = at as u32;
                    }
                    rec.push(
                        TrainKernel::Forward(plan.group),
                        w,
                        vec![&self.params, &xp, &lens_buf, &tape, &state, &packed],
                        [plan.sequence_groups, 1],
                    )?;
                }
                let dispatches = rec.count();
                let mut encoder = device.create_command_encoder(&Default::default());
                rec.encode(&self.pipelines, &mut encoder)?;
                let top = plan.layers.last().expect("at least one layer");
                copy(&mut encoder, &tape, top.y, &staging, 0, y_len);
                copy(
                    &mut encoder,
                    &state,
                    states[2],
                    &staging,
                    y_len,
                    plan.h_states + plan.c_states,
                );
                Ok((
                    encoder,
                    staging,
                    Tape {
                        model: self.id,
                        version: self.version.load(Ordering::Relaxed),
                        dims,
                        plan: plan.clone(),
                        tape,
                        lens: lens_buf,
                    },
                    dispatches,
                    uploaded,
                ))
            })??;
        let out = self.submit_and_read(encoder, &staging, out_len, wait).await?;
        self.record_stats(|s| s.forward = PassStats::read_once(dispatches, uploaded, out_len));
        let mut out = out;
        let c_n = out.split_off(y_len + plan.h_states);
        let h_n = out.split_off(y_len);
        Ok((
            Output {
                y: Tensor::new(y_shape(cfg, dims), out)?,
                h_n: Tensor::new(state_shape(cfg, dims.batch, p), h_n)?,
                c_n: Tensor::new(state_shape(cfg, dims.batch, h), c_n)?,
            },
            tape,
        ))
    }

    /// Check a backward's inputs against `tape`, allocate its buffers and upload dy, dh_n and
    /// dc_n; returns the buffers and the f32s uploaded.
    fn upload_backward(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<(BackwardBuffers, usize)> {
        if tape.model != self.id {
            return Err(Error::invalid("tape", "was recorded by another TrainLstm"));
        }
        if tape.version != self.version.load(Ordering::Relaxed) {
            return Err(Error::invalid(
                "tape",
                "was recorded before an optimizer step changed the weights; run forward_train again",
            ));
        }
        check_output_grads(&self.config, tape.dims, dy, dh_n, dc_n)?;
        let plan = &tape.plan;
        let device = &self.device;
        let (states, state_len) = plan.states();
        let buffers = BackwardBuffers {
            grads: storage(device, "gradients", self.layout.len, wgpu::BufferUsages::COPY_SRC)?,
            dx: storage(
                device,
                "dL/dy between layers",
                plan.dy_len,
                wgpu::BufferUsages::COPY_SRC,
            )?,
            dstate: storage(device, "state gradients", state_len, wgpu::BufferUsages::COPY_SRC)?,
            work: storage(
                device,
                "backward work",
                plan.work_len,
                wgpu::BufferUsages::empty(),
            )?,
            other: storage(
                device,
                "dL/dy between layers",
                plan.dy_len,
                wgpu::BufferUsages::COPY_SRC,
            )?,
            one: storage(device, "one", 1, wgpu::BufferUsages::empty())?,
        };
        let q = &self.queue;
        // The top layer reads dy from the buffer that does not end up holding dx.
        let first = if self.config.num_layers % 2 == 1 {
            &buffers.other
        } else {
            &buffers.dx
        };
        q.write_buffer(first, 0, bytemuck::cast_slice(dy.data()));
        q.write_buffer(&buffers.one, 0, bytemuck::cast_slice(&[1.0f32]));
        let mut uploaded = dy.data().len() + 1;
        for (t, at) in [(dh_n, states[0]), (dc_n, states[1])] {
            if let Some(t) = t {
                q.write_buffer(&buffers.dstate, at as u64 * F32, bytemuck::cast_slice(t.data()));
                uploaded += t.data().len();
            }
        }
        Ok((buffers, uploaded))
    }

    /// List the backward's dispatches. The state-gradient buffer holds dh_n, dc_n (in) and
    /// dh0, dc0 (out), in that order.
    fn record_backward<'a>(
        &'a self,
        rec: &mut Recorder<'a>,
        tape: &'a Tape,
        b: &'a BackwardBuffers,
    ) -> Result<()> {
        let cfg = &self.config;
        let plan = &tape.plan;
        let dims = tape.dims;
        let (nd, h, p) = (cfg.num_directions(), cfg.hidden_size, cfg.output_size());
        let (states, _) = plan.states();
        let rows = plan.rows;
        let (mut dy_in, mut dy_out) = if cfg.num_layers % 2 == 1 {
            (&b.other, &b.dx)
        } else {
            (&b.dx, &b.other)
        };
        for l in (0..cfg.num_layers).rev() {
            let layer = plan.layers[l];
            let inp = cfg.layer_input_size(l);
            let mut w = self.seq_words(plan, dims, l)?;
            for (i, at) in [
                (seq::HN, states[0]),
                (seq::CN, states[1]),
                (seq::H0, states[2]),
                (seq::C0, states[3]),
                (seq::W_DG, plan.work_dg),
                (seq::W_DH, plan.work_dh),
                (seq::W_DCARRY, plan.work_dcarry),
                (seq::W_PEEP, plan.work_peep),
            ] {
                w[i] = at as u32;
            }
            rec.push(
                TrainKernel::Backward(plan.group),
                w,
                vec![&self.params, &tape.tape, dy_in, &tape.lens, &b.work, &b.dstate],
                [plan.sequence_groups, 1],
            )?;
            let g4 = nd * 4 * h;
            for d in 0..nd {
                let slot = &self.layout.slots[l * nd + d];
                let dg = View::transposed(plan.work_dg + d * 4 * h, g4);
                // dW[r, i] = Σ_rows dG[row, r]·X[row, i]
                rec.gemm(
                    (4 * h, inp, rows),
                    (&b.work, dg),
                    (&tape.tape, View::rows(layer.input, inp)),
                    (&b.grads, slot.w_ih.start, inp),
                    false,
                )?;
                // dR[r, q] = Σ_rows dG[row, r]·h_prev[row, q]
                rec.gemm(
                    (4 * h, p, rows),
                    (&b.work, dg),
                    (&tape.tape, View::rows(layer.h_prev + d * p, nd * p)),
                    (&b.grads, slot.w_hh.start, p),
                    false,
                )?;
                for bias in [&slot.b_ih, &slot.b_hh].into_iter().flatten() {
                    rec.gemm(
                        (1, 4 * h, rows),
                        (&b.one, View::broadcast(0)),
                        (&b.work, View::rows(plan.work_dg + d * 4 * h, g4)),
                        (&b.grads, bias.start, 4 * h),
                        false,
                    )?;
                }
                if let Some(peep) = &slot.peephole {
                    rec.gemm(
                        (1, 3 * h, dims.batch),
                        (&b.one, View::broadcast(0)),
                        (
                            &b.work,
                            View::rows(plan.work_peep + d * dims.batch * 3 * h, 3 * h),
                        ),
                        (&b.grads, peep.start, 3 * h),
                        false,
                    )?;
                }
                if let Some(w_hr) = &slot.w_hr {
                    // dW_hr[q, j] = Σ_rows dh[row, q]·m[row, j]
                    rec.gemm(
                        (p, h, rows),
                        (&b.work, View::transposed(plan.work_dh + d * p, nd * p)),
                        (&tape.tape, View::rows(layer.m + d * h, nd * h)),
                        (&b.grads, w_hr.start, h),
                        false,
                    )?;
                }
                // dX[row, i] (+)= Σ_r dG[row, r]·W[r, i]
                rec.gemm(
                    (rows, inp, 4 * h),
                    (&b.work, View::rows(plan.work_dg + d * 4 * h, g4)),
                    (&self.params, View::rows(slot.w_ih.start, inp)),
                    (dy_out, 0, inp),
                    d > 0,
                )?;
            }
            std::mem::swap(&mut dy_in, &mut dy_out);
        }
        Ok(())
    }

    /// Backpropagation through time from `tape`: the gradients of
    /// L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n (absent `dh_n`/`dc_n` are zero), read back (one
    /// submission, one readback). (On the web: [`TrainLstm::backward_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn backward(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<Gradients> {
        pollster::block_on(self.backward_scoped(tape, dy, dh_n, dc_n, true))
    }

    /// [`TrainLstm::backward`] as a future (see
    /// [`Lstm::forward_async`](crate::Lstm::forward_async) about polling).
    pub async fn backward_async(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<Gradients> {
        self.backward_scoped(tape, dy, dh_n, dc_n, false).await
    }

    async fn backward_scoped(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
        wait: bool,
    ) -> Result<Gradients> {
        scope::entry(
            &self.device,
            "the training backward",
            self.backward_inner(tape, dy, dh_n, dc_n, wait),
        )
        .await
    }

    async fn backward_inner(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
        wait: bool,
    ) -> Result<Gradients> {
        let cfg = &self.config;
        let dims = tape.dims;
        let plan = &tape.plan;
        let device = &self.device;
        let (states, _) = plan.states();
        let n = self.layout.len;
        let dx_len = plan.rows * cfg.input_size;
        let total = n + dx_len + plan.h_states + plan.c_states;
        let (encoder, staging, _buffers, dispatches, uploaded) =
            capture(device, "the training backward", || -> Result<_> {
                let (buffers, uploaded) = self.upload_backward(tape, dy, dh_n, dc_n)?;
                let staging = staging(device, total);
                let mut rec = Recorder::new(&device.limits());
                self.record_backward(&mut rec, tape, &buffers)?;
                let dispatches = rec.count();
                let mut encoder = device.create_command_encoder(&Default::default());
                rec.encode(&self.pipelines, &mut encoder)?;
                copy(&mut encoder, &buffers.grads, 0, &staging, 0, n);
                copy(&mut encoder, &buffers.dx, 0, &staging, n, dx_len);
                copy(
                    &mut encoder,
                    &buffers.dstate,
                    states[2],
                    &staging,
                    n + dx_len,
                    plan.h_states + plan.c_states,
                );
                Ok((encoder, staging, buffers, dispatches, uploaded))
            })??;
        let mut flat = self.submit_and_read(encoder, &staging, total, wait).await?;
        self.record_stats(|s| s.backward = PassStats::read_once(dispatches, uploaded, total));
        let dc0 = flat.split_off(n + dx_len + plan.h_states);
        let dh0 = flat.split_off(n + dx_len);
        let dx = flat.split_off(n);
        Gradients::from_parts(&self.layout, cfg, dims, &flat, [dx, dh0, dc0])
    }
}
