//! Checks of a request against the device's limits, so that oversized work is refused with a
//! clear error naming the limit instead of failing inside wgpu.

use super::shaders::{self, Kernel};
use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::Dims;

const SPLIT_HINT: &str = "; use a smaller batch or sequence, or run in chunks";

fn need(limit: &'static str, needed: u64, available: u64, hint: &'static str) -> Result<()> {
    if needed > available {
        return Err(Error::DeviceLimit {
            limit,
            needed,
            available,
            hint,
        });
    }
    Ok(())
}

/// Largest buffer we bind as storage: the device's binding limit, and at most what u32 indexing
/// in the kernels reaches.
fn storage_cap(limits: &wgpu::Limits) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(u32::MAX as u64)
}

/// A storage buffer of `bytes`.
pub(crate) fn storage_buffer(limits: &wgpu::Limits, bytes: u64, hint: &'static str) -> Result<()> {
    need(
        "max_storage_buffer_binding_size",
        bytes,
        storage_cap(limits),
        hint,
    )
}

fn kernel_fits(limits: &wgpu::Limits, kernel: &Kernel) -> Result<()> {
    need(
        "max_storage_buffers_per_shader_stage",
        kernel.storage_buffers() as u64,
        limits.max_storage_buffers_per_shader_stage as u64,
        "",
    )?;
    let [x, y, z] = kernel.workgroup_size;
    need(
        "max_compute_invocations_per_workgroup",
        (x * y * z) as u64,
        limits.max_compute_invocations_per_workgroup as u64,
        "",
    )?;
    need(
        "max_compute_workgroup_size_x",
        x as u64,
        limits.max_compute_workgroup_size_x as u64,
        "",
    )?;
    need(
        "max_compute_workgroup_size_y",
        y as u64,
        limits.max_compute_workgroup_size_y as u64,
        "",
    )
}

/// What does not depend on the sequence: kernels and resident weights.
pub(crate) fn check_model(limits: &wgpu::Limits, config: &LstmConfig) -> Result<()> {
    for kernel in shaders::ALL {
        kernel_fits(limits, kernel)?;
    }
    // Two 64×16 f32 tiles in the projection kernel.
    need(
        "max_compute_workgroup_storage_size",
        2 * 64 * 16 * 4,
        limits.max_compute_workgroup_storage_size as u64,
        "",
    )?;
    need(
        "max_dynamic_uniform_buffers_per_pipeline_layout",
        1,
        limits.max_dynamic_uniform_buffers_per_pipeline_layout as u64,
        "",
    )?;
    let (d, h, p) = (
        config.num_directions() as u64,
        config.hidden_size as u64,
        config.output_size() as u64,
    );
    const WEIGHT_HINT: &str = "; the model is too large for this device";
    for l in 0..config.num_layers {
        let inp = config.layer_input_size(l) as u64;
        storage_buffer(limits, d * 4 * h * inp * 4, WEIGHT_HINT)?;
    }
    storage_buffer(limits, d * 4 * h * (p + 1) * 4, WEIGHT_HINT)?;
    need(
        "max_compute_workgroups_per_dimension",
        d.max(h.div_ceil(shaders::STEP_WORKGROUP as u64)),
        limits.max_compute_workgroups_per_dimension as u64,
        WEIGHT_HINT,
    )
}

/// The wavefront's stacked weights (one direction, P = H): layer 0's recurrent weights and
/// peepholes, then recurrent and input weights, peepholes and biases of each layer after it.
pub(crate) fn stacked_weights(limits: &wgpu::Limits, config: &LstmConfig) -> Result<()> {
    let (h, nl) = (config.hidden_size as u64, config.num_layers as u64);
    let vec4s = (h + 1) * h + nl.saturating_sub(1) * 2 * (h + 1) * h;
    storage_buffer(
        limits,
        vec4s * 16,
        "; the stack is too large for one binding on this device",
    )
}

/// Everything that grows with T and B.
pub(crate) fn check_request(
    limits: &wgpu::Limits,
    config: &LstmConfig,
    dims: Dims,
    param_stride: u64,
) -> Result<()> {
    let (t, b) = (dims.seq_len as u64, dims.batch as u64);
    let (d, h, p) = (
        config.num_directions() as u64,
        config.hidden_size as u64,
        config.output_size() as u64,
    );
    let rows = t * b;
    let widest_input = (0..config.num_layers)
        .map(|l| config.layer_input_size(l) as u64)
        .max()
        .unwrap_or(0);
    storage_buffer(limits, rows * widest_input * 4, SPLIT_HINT)?;
    storage_buffer(limits, rows * d * 4 * h * 4, SPLIT_HINT)?;
    let nl = config.num_layers as u64;
    // The Y pair, and every layer's working state.
    let y_half = super::workspace::y_half_bytes(limits, rows * d * p * 4);
    storage_buffer(limits, nl.min(2) * y_half, SPLIT_HINT)?;
    storage_buffer(limits, nl * 2 * d * b * (h + p) * 4, SPLIT_HINT)?;
    // Step parameters: one block per (layer, step) at most.
    need(
        "max_buffer_size",
        nl * t * param_stride,
        limits.max_buffer_size,
        SPLIT_HINT,
    )?;
    need(
        "max_buffer_size",
        rows * d * p * 4 + config.num_layers as u64 * d * b * (h + p) * 4,
        limits.max_buffer_size,
        SPLIT_HINT,
    )?;
    let tile = shaders::INPUT_PROJECTION_TILE as u64;
    need(
        "max_compute_workgroups_per_dimension",
        rows.div_ceil(tile).max(b).max((d * 4 * h).div_ceil(tile)),
        limits.max_compute_workgroups_per_dimension as u64,
        SPLIT_HINT,
    )?;
    need("u32 sequence positions", t * b, u32::MAX as u64, SPLIT_HINT)
}
