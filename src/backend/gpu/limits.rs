//! Checks of plans against the device's limits, so that oversized work is refused with an error
//! naming the limit before anything is allocated, instead of failing inside wgpu. Everything
//! checked here is read from the plan: buffer and binding sizes, dispatch grids, dynamic offsets
//! and the kernels' needs.

use super::plan::{ModelPlan, Plan, Resource, Resources, Usage};
use super::shaders::Kernel;
use crate::error::{Error, Result};

const REQUEST_HINT: &str = "; use a smaller batch or sequence, or run in chunks";
const MODEL_HINT: &str = "; the model is too large for this device";

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

/// What a kernel needs of every device.
pub(crate) fn kernel(limits: &wgpu::Limits, kernel: &Kernel) -> Result<()> {
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
    )?;
    need(
        "max_compute_workgroup_storage_size",
        kernel.workgroup_bytes,
        limits.max_compute_workgroup_storage_size as u64,
        "",
    )
}

/// The resident weights: each one storage binding.
pub(crate) fn model(limits: &wgpu::Limits, model: &ModelPlan) -> Result<()> {
    need(
        "max_dynamic_uniform_buffers_per_pipeline_layout",
        1,
        limits.max_dynamic_uniform_buffers_per_pipeline_layout as u64,
        "",
    )?;
    for w in &model.weights {
        storage_buffer(limits, w.bytes, MODEL_HINT)?;
    }
    Ok(())
}

/// One buffer of a plan, used as `usage` (a storage buffer is bound whole unless a plan's bind
/// groups say otherwise, which `resources` checks): every GPU job's buffers are checked through
/// this before any is allocated.
pub(crate) fn buffer(limits: &wgpu::Limits, bytes: u64, usage: Usage) -> Result<()> {
    need("max_buffer_size", bytes, limits.max_buffer_size, REQUEST_HINT)?;
    if matches!(usage, Usage::Uniform | Usage::UniformWritten) {
        // Dynamic offsets into uniform blocks are u32.
        need("max_buffer_size", bytes, u32::MAX as u64, REQUEST_HINT)?;
    }
    Ok(())
}

/// Every buffer of a forward and every binding of one, before they are allocated.
pub(crate) fn resources(limits: &wgpu::Limits, res: &Resources) -> Result<()> {
    for spec in &res.buffers {
        buffer(limits, spec.bytes, spec.usage)?;
    }
    for group in &res.groups {
        for entry in &group.entries {
            if let Resource::Buffer { buf, offset, size } = *entry {
                let spec = res.buffer(buf);
                let bytes = size.unwrap_or(spec.bytes - offset);
                match spec.usage {
                    Usage::Storage => storage_buffer(limits, bytes, REQUEST_HINT)?,
                    _ => need(
                        "max_uniform_buffer_binding_size",
                        bytes,
                        limits.max_uniform_buffer_binding_size,
                        "",
                    )?,
                }
            }
        }
    }
    Ok(())
}

/// Every dispatch's grid.
pub(crate) fn plan(limits: &wgpu::Limits, plan: &Plan) -> Result<()> {
    let max = limits.max_compute_workgroups_per_dimension as u64;
    for d in &plan.dispatches {
        for extent in d.grid {
            need("max_compute_workgroups_per_dimension", extent, max, REQUEST_HINT)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::backend::gpu::plan::{Buf, ModelPlan, Resources, Target};
    use crate::backend::gpu::variants::{GemmVariant, Schedule, StepVariant, Variants};
    use crate::config::{Direction, LstmConfig};
    use crate::forward::Dims;

    const TARGET: Target = Target {
        uniform_align: 256,
        storage_align: 256,
        timestamps: false,
        max_workgroups: 65_535,
    };

    proptest::proptest! {
        /// Any model and request sizes are sized or refused, never a panic; where the sizes fit
        /// the default limits, the plan and its parameter blocks are made.
        #[test]
        fn any_sizes_are_planned_or_refused(
            i in proptest::prop_oneof![1usize..300, 1usize..1 << 40],
            h in proptest::prop_oneof![1usize..300, 1usize..1 << 40],
            layers in 1usize..5,
            bidirectional in proptest::bool::ANY,
            stacked in proptest::bool::ANY,
            t in proptest::prop_oneof![1usize..100, 1usize..usize::MAX],
            b in proptest::prop_oneof![1usize..100, 1usize..usize::MAX],
        ) {
            let direction = if bidirectional { Direction::Bidirectional } else { Direction::Forward };
            let cfg = LstmConfig { input_size: i, hidden_size: h, num_layers: layers, direction, ..LstmConfig::default() };
            let Ok(model) = ModelPlan::new(&cfg, GemmVariant::TILED, stacked, false) else { return Ok(()) };
            let dims = Dims { seq_len: t % (1 << 20) + 1, batch: b % 4096 + 1 };
            for dims in [dims, Dims { seq_len: t, batch: b }] {
                let Ok(res) = Resources::new(&cfg, &model, dims, TARGET) else { continue };
                let limits = wgpu::Limits::default();
                if super::resources(&limits, &res).is_ok()
                    && super::model(&limits, &model).is_ok()
                {
                    let plan = res.plan(Variants { gemm: GemmVariant::TILED, step: StepVariant::Batch4, schedule: Schedule::Wavefront });
                    proptest::prop_assert!(!plan.dispatches.is_empty());
                    let _ = res.uniform_contents(Buf::StepParams);
                }
            }
        }
    }
}
