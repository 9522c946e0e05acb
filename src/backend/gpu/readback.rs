//! Reading a mapped buffer back to the host: map, then resolve when wgpu reports it mapped.
//! Cancellation-safe: a future dropped before it resolves (or an error on the way) unmaps the
//! buffer, aborting a pending map, so the next read of it works.

use crate::error::{Error, GpuError, Result};

/// Map the first `bytes` of `buffer` and return them as f32, unmapping afterwards.
pub(crate) async fn read(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
    wait: Option<wgpu::SubmissionIndex>,
) -> Result<Vec<f32>> {
    let raw = read_bytes(device, buffer, bytes, wait).await?;
    Ok(bytemuck::pod_collect_to_vec(&raw))
}

/// Unmaps the buffer when dropped, while a map it asked for is pending or done.
struct Mapping<'a> {
    buffer: &'a wgpu::Buffer,
    armed: bool,
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.buffer.unmap();
        }
    }
}

/// Map the first `bytes` of `buffer` and copy them out, unmapping afterwards.
///
/// With `wait`, this thread blocks in `Device::poll` until that submission is done, so the
/// future is ready at once. Without, the future resolves when the application polls the device
/// (`device.poll(wgpu::PollType::Poll)` in its loop, or a thread that waits); nothing here spins.
pub(crate) async fn read_bytes(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
    wait: Option<wgpu::SubmissionIndex>,
) -> Result<Vec<u8>> {
    let err = |source: GpuError| Error::Gpu {
        during: "reading back outputs",
        source,
    };
    let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
    let slice = buffer.slice(..bytes);
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    let mut mapping = Mapping { buffer, armed: true };
    if let Some(submission) = wait {
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| err(GpuError::Poll(e)))?;
    }
    match receiver.receive().await {
        Some(Ok(())) => {}
        // A failed map leaves the buffer unmapped.
        Some(Err(e)) => {
            mapping.armed = false;
            return Err(err(GpuError::Map(e)));
        }
        None => {
            mapping.armed = false;
            return Err(err(GpuError::MapDropped));
        }
    }
    let view = slice.get_mapped_range().map_err(|e| err(GpuError::MapRange(e)))?;
    Ok(view.to_vec())
}
