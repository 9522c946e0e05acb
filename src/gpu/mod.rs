//! The GPU path: device ownership ([`GpuContext`]), the kernel registry ([`shaders`]), pipelines
//! and their cache, weight packing, limit checks, GPU-resident state ([`LstmState`]), per-shape
//! workspaces and the engine ([`Lstm`]) that records, submits and reads back.

mod context;
mod engine;
mod limits;
mod packing;
mod params;
mod pipelines;
mod readback;
pub mod shaders;
mod state;
mod tune;
mod tuning_file;
mod variants;
mod workspace;

pub use context::{
    choose_adapter, describe_adapter, enumerate_adapters, supports_compute, AdapterRequest, GpuContext,
};
pub use engine::{EncodeTarget, ForwardStats, KernelPart, Lstm, StateExport};
pub use params::{GemmParams, StepParams};
pub use pipelines::PipelineCache;
pub use state::LstmState;
pub use variants::{GemmVariant, Schedule, StepVariant, Variants};

use crate::error::{Error, Result};

/// Run `f` with validation and out-of-memory error scopes pushed, returning what they caught.
pub(crate) fn capture<T>(device: &wgpu::Device, during: &'static str, f: impl FnOnce() -> T) -> Result<T> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    let validation = pollster::block_on(validation.pop());
    let oom = pollster::block_on(oom.pop());
    match validation.or(oom) {
        Some(e) => Err(Error::Gpu {
            during,
            message: e.to_string(),
        }),
        None => Ok(value),
    }
}
