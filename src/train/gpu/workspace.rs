//! The buffers of one training shape (T, B), listed by its plan ([`TapePlan::buffers`]), checked
//! against the device's limits and allocated through the engine's allocator
//! (`backend::gpu::workspace::allocate`), then reused: a forward takes the model's spare
//! workspace when the shape matches, its [`Tape`](super::Tape) holds it for the backward and
//! optimizer steps, and dropping the tape gives it back for the next forward.
//!
//! Reused buffers are not zero: each pass clears, as steps of its recording, the ranges it reads
//! that neither the caller nor its kernels write (`TapePlan::forward_clears`,
//! `TapePlan::backward_clears`: absent initial states and state gradients).

use std::sync::{Arc, Mutex};

use super::tape::{Read, TapePlan};
use super::{copy, F32, REQUEST_HINT};
use crate::backend::gpu::limits;
use crate::backend::gpu::plan::Usage;
use crate::backend::gpu::workspace::allocate;
use crate::error::{Error, Result};
use crate::forward::Dims;

/// A buffer of a training shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TrainBuf {
    /// The layers' records; the input X at its start.
    Tape,
    /// h0, c0, h_n, c_n.
    State,
    /// One layer's input projection.
    Xp,
    /// One layer's Rᵀ and W_hrᵀ per direction.
    Packed,
    /// `[B]` u32 lengths.
    Lens,
    /// Every weight's gradient, in the flat layout.
    Grads,
    /// dL/dy between layers in two buffers taking turns: `Dx` ends up holding dL/dx of the first
    /// layer (the top layer reads dy from `Other` with an odd number of layers).
    Dx,
    Other,
    /// dh_n, dc_n in; dh0, dc0 out.
    DState,
    /// dgates, dh, the dc carry and the peephole sums.
    Work,
    /// A single 1.0: the row of ones the bias and peephole sums multiply by.
    One,
    /// What a forward or backward reads back.
    Staging,
}

/// A buffer as a plan lists it.
#[derive(Clone, Copy, Debug)]
pub(super) struct BufferSpec {
    pub buf: TrainBuf,
    pub label: &'static str,
    pub bytes: u64,
    pub usage: Usage,
}

/// Bytes of `len` f32s (at least one: wgpu has no empty buffers), or an overflow naming `what`.
pub(super) fn f32_bytes(what: &str, len: usize) -> Result<u64> {
    (len.max(1) as u64)
        .checked_mul(F32)
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

/// A buffer of `bytes` used as `usage`, against the device's limits, before it is allocated:
/// every buffer of training (a shape's, the weights', an optimizer's) is checked here. Storage
/// buffers are bound whole.
pub(super) fn check(device_limits: &wgpu::Limits, bytes: u64, usage: Usage) -> Result<()> {
    limits::buffer(device_limits, bytes, usage)?;
    if usage == Usage::Storage {
        limits::storage_buffer(device_limits, bytes, REQUEST_HINT)?;
    }
    Ok(())
}

/// The buffers of one shape.
pub(super) struct TrainWorkspace {
    pub dims: Dims,
    buffers: Vec<(TrainBuf, wgpu::Buffer)>,
    /// The readback buffer while no readback maps it (taken out meanwhile: a second backward of
    /// the same tape, running while the first reads, allocates its own).
    staging: Option<wgpu::Buffer>,
    staging_bytes: u64,
    /// The uniform blocks of a pass, grown to the longest pass recorded (every pass writes its
    /// blocks with `Queue::write_buffer`, which the queue orders after the passes before it).
    uniforms: Mutex<Option<wgpu::Buffer>>,
}

impl TrainWorkspace {
    /// Allocate what `plan` lists for `dims` (after [`check`]).
    pub fn new(device: &wgpu::Device, plan: &TapePlan, dims: Dims, weights: usize) -> Result<TrainWorkspace> {
        let specs = plan.buffers(dims.batch, weights)?;
        let device_limits = device.limits();
        for spec in &specs {
            check(&device_limits, spec.bytes, spec.usage)?;
        }
        let mut buffers = Vec::with_capacity(specs.len());
        let (mut staging, mut staging_bytes) = (None, 0);
        for spec in specs {
            let buffer = allocate(device, spec.label, spec.bytes, spec.usage);
            if spec.buf == TrainBuf::Staging {
                (staging, staging_bytes) = (Some(buffer), spec.bytes);
            } else {
                buffers.push((spec.buf, buffer));
            }
        }
        Ok(TrainWorkspace {
            dims,
            buffers,
            staging,
            staging_bytes,
            uniforms: Mutex::new(None),
        })
    }

    pub fn buffer(&self, buf: TrainBuf) -> &wgpu::Buffer {
        &self
            .buffers
            .iter()
            .find(|(b, _)| *b == buf)
            .expect("every buffer but the staging one is listed")
            .1
    }

    /// The readback buffer, taken out until [`TrainWorkspace::return_staging`].
    pub fn take_staging(&mut self, device: &wgpu::Device) -> wgpu::Buffer {
        self.staging
            .take()
            .unwrap_or_else(|| allocate(device, "training readback", self.staging_bytes, Usage::Staging))
    }

    pub fn return_staging(&mut self, staging: wgpu::Buffer) {
        self.staging = Some(staging);
    }

    /// A uniform buffer of at least `bytes`, kept for the passes after.
    pub fn uniforms(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let mut kept = self.uniforms.lock().unwrap_or_else(|e| e.into_inner());
        match &*kept {
            Some(u) if u.size() >= bytes => u.clone(),
            _ => kept
                .insert(allocate(
                    device,
                    "training uniforms",
                    bytes,
                    Usage::UniformWritten,
                ))
                .clone(),
        }
    }

    /// Record the copies of `reads` into `staging`.
    pub fn read_into(&self, encoder: &mut wgpu::CommandEncoder, staging: &wgpu::Buffer, reads: &[Read]) {
        for r in reads {
            copy(encoder, self.buffer(r.buf), r.from, staging, r.to, r.len);
        }
    }

    /// Zero `len` f32s of `buf` from `at` (a step of a pass's recording).
    pub fn clear(&self, encoder: &mut wgpu::CommandEncoder, buf: TrainBuf, at: usize, len: usize) {
        if len > 0 {
            encoder.clear_buffer(self.buffer(buf), at as u64 * F32, Some(len as u64 * F32));
        }
    }
}

/// A model's workspace between tapes: the last tape dropped leaves its workspace here.
pub(super) type Spare = Arc<Mutex<Option<TrainWorkspace>>>;

/// The spare workspace when it has `dims`' shape, else a new one.
pub(super) fn take_or_allocate(
    spare: &Spare,
    device: &wgpu::Device,
    plan: &TapePlan,
    dims: Dims,
    weights: usize,
) -> Result<TrainWorkspace> {
    let kept = spare.lock().unwrap_or_else(|e| e.into_inner()).take();
    match kept {
        Some(ws) if ws.dims == dims => Ok(ws),
        _ => TrainWorkspace::new(device, plan, dims, weights),
    }
}
