//! The GPU path: device ownership ([`GpuContext`]), the kernel registry ([`shaders`]), pipelines,
//! weight packing, limit checks and the engine ([`Lstm`]) that records and runs a forward.

mod context;
mod engine;
mod limits;
mod packing;
mod params;
mod pipelines;
pub mod shaders;

pub use context::{
    choose_adapter, describe_adapter, enumerate_adapters, supports_compute, AdapterRequest,
    GpuContext,
};
pub use engine::{ForwardStats, Lstm};
pub use params::{GemmParams, StepParams};

use crate::error::{Error, Result};

/// Run `f` with validation and out-of-memory error scopes pushed, returning what they caught.
pub(crate) fn capture<T>(
    device: &wgpu::Device,
    during: &'static str,
    f: impl FnOnce() -> T,
) -> Result<T> {
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
