//! wgpu errors captured with error scopes and returned as [`Error::Gpu`], never panicked.
//!
//! Natively each step that can fail ([`capture`]) pops its scopes at once, blocking briefly. On
//! the web nothing may block: the async entry points ([`capture_async`]) hold one pair of scopes
//! around the whole call and await them, and [`capture`] only runs its closure.

use std::future::Future;

use crate::error::{Error, GpuError, Result};

/// Run `f` with validation and out-of-memory error scopes pushed, returning what they caught.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn capture<T>(device: &wgpu::Device, during: &'static str, f: impl FnOnce() -> T) -> Result<T> {
    pollster::block_on(capture_async(device, during, async { f() }))
}

/// On the web, `f` runs inside the scopes of the [`capture_async`] around the whole call.
#[cfg(target_arch = "wasm32")]
pub(crate) fn capture<T>(_device: &wgpu::Device, _during: &'static str, f: impl FnOnce() -> T) -> Result<T> {
    Ok(f())
}

/// Await `work` with validation and out-of-memory error scopes pushed, then await the scopes:
/// an error they caught is returned in place of the value.
pub(crate) async fn capture_async<T>(
    device: &wgpu::Device,
    during: &'static str,
    work: impl Future<Output = T>,
) -> Result<T> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = work.await;
    let validation = validation.pop().await;
    let oom = oom.pop().await;
    match validation.or(oom) {
        Some(e) => Err(Error::Gpu {
            during,
            source: GpuError::Wgpu(e),
        }),
        None => Ok(value),
    }
}

/// The scope of an async entry point (a forward, a stream step, building an engine): on the web
/// the one that catches every error of the call; natively the steps inside capture their own
/// errors (the scope stack is per thread there, and a future may move between threads), so the
/// work runs as it is.
pub(crate) async fn entry<T>(
    device: &wgpu::Device,
    during: &'static str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    #[cfg(target_arch = "wasm32")]
    {
        capture_async(device, during, work).await?
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (device, during);
        work.await
    }
}
