//! Reading a mapped buffer back to the host: map, then resolve when wgpu reports it mapped.

use crate::error::{Error, Result};

/// Map the first `bytes` of `buffer` and return them as f32, unmapping afterwards.
pub(crate) async fn read(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
    wait: Option<wgpu::SubmissionIndex>,
) -> Result<Vec<f32>> {
    let raw = read_bytes(device, buffer, bytes, wait).await?;
    Ok(raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
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
    let err = |message: String| Error::Gpu {
        during: "reading back outputs",
        message,
    };
    let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
    let slice = buffer.slice(..bytes);
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    if let Some(submission) = wait {
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| err(e.to_string()))?;
    }
    match receiver.receive().await {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(err(e.to_string())),
        None => return Err(err("the map callback was dropped".into())),
    }
    let data = {
        let view = slice.get_mapped_range().map_err(|e| err(e.to_string()))?;
        view.to_vec()
    };
    buffer.unmap();
    Ok(data)
}
