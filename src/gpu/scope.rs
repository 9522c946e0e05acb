//! wgpu errors captured with error scopes and returned as [`Error::Gpu`], never panicked.

use crate::error::{Error, GpuError, Result};

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
            source: GpuError::Wgpu(e),
        }),
        None => Ok(value),
    }
}
