//! The plan of a forward: the one place where its sizes, bindings and dispatches are worked out.
//!
//! - [`ModelPlan`]: the resident weight buffers of a model, in the kernels' layouts.
//! - [`Resources`]: every buffer a forward of shape (T, B) needs, with its size and usage, and
//!   every bind group over them and the weights. They do not depend on the kernel choice, so one
//!   allocation serves every variant.
//! - [`Plan`]: the dispatches a choice of kernels records, each with its kernel, bind group,
//!   dynamic offset and grid.
//!
//! The limit checks (`limits`), allocation (`Workspace::new`), recording (`Workspace::record`),
//! the autotune (which times slices of plans) and the counters of `ForwardStats` all read these.
//! Every size is computed with checked arithmetic, before anything is allocated.

use super::grid;
use super::params::{GemmParams, PoolRowsParams, StepParams};
use super::shaders::{self, Kernel, KernelRef, WeightFormat};
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
use crate::cell::Cell;
use crate::config::{Layout, LstmConfig};
use crate::error::{Error, Result};
use crate::forward::Dims;

const F32: u64 = 4;

/// Bytes of the two resolved u64 timestamps at the end of the staging buffer.
pub(crate) const TIMESTAMP_BYTES: u64 = 16;

/// The product of `factors`, or an error naming `what` when it overflows.
fn product(what: &str, factors: &[u64]) -> Result<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

/// The sum of `terms`, or an error naming `what` when it overflows.
fn sum(what: &str, terms: &[u64]) -> Result<u64> {
    terms
        .iter()
        .try_fold(0u64, |acc, &t| acc.checked_add(t))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

/// `value` rounded up to a multiple of `align`.
fn round_up(what: &str, value: u64, align: u64) -> Result<u64> {
    product(what, &[value.div_ceil(align.max(1)), align.max(1)])
}

fn to_u32(what: &str, value: u64) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::Overflow { what: what.into() })
}

/// D, H, P and L.
fn model_sizes(config: &LstmConfig) -> (u64, u64, u64, usize) {
    (
        config.num_directions() as u64,
        config.hidden_size as u64,
        config.output_size() as u64,
        config.num_layers,
    )
}

/// What a plan needs to know of the device: alignments and whether it has timestamp queries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    pub uniform_align: u64,
    pub storage_align: u64,
    pub timestamps: bool,
    /// `max_compute_workgroups_per_dimension`: grids past it fold (`grid.rs`).
    pub max_workgroups: u64,
}

impl Target {
    pub fn of(device: &wgpu::Device) -> Target {
        let limits = device.limits();
        Target {
            uniform_align: limits.min_uniform_buffer_offset_alignment as u64,
            storage_align: limits.min_storage_buffer_offset_alignment as u64,
            timestamps: device.features().contains(wgpu::Features::TIMESTAMP_QUERY),
            max_workgroups: limits.max_compute_workgroups_per_dimension as u64,
        }
    }
}

mod model;
mod resources;

pub(crate) use model::{ModelPlan, WeightId};
pub(crate) use resources::{Buf, IoSizes, Resource, Resources, Usage};

/// The sizes of a (GEMM) input projection: `rows × n` outputs over `k` inputs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GemmShape {
    pub rows: u64,
    pub n: u64,
    pub k: u64,
}

impl GemmShape {
    /// Workgroups of the variant's dispatch.
    pub fn grid(self, variant: GemmVariant) -> [u64; 3] {
        match variant {
            GemmVariant::Tiled { m, n, .. } => [self.n.div_ceil(n as u64), self.rows.div_ceil(m as u64), 1],
            GemmVariant::RegisterBlocked => {
                let columns = (shaders::INPUT_PROJECTION_BLOCKED_COLUMNS
                    * shaders::INPUT_PROJECTION_BLOCKED_WORKGROUP) as u64;
                [
                    (self.n / 4).div_ceil(columns),
                    self.rows.div_ceil(shaders::INPUT_PROJECTION_BLOCKED_ROWS as u64),
                    1,
                ]
            }
        }
    }

    pub fn params(self) -> Result<GemmParams> {
        let what = "the input projection's sizes";
        Ok(GemmParams {
            m: to_u32(what, self.rows)?,
            n: to_u32(what, self.n)?,
            k: to_u32(what, self.k)?,
            _pad: 0,
        })
    }
}

/// What a dispatch computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// A layer's input projection, all timesteps and directions.
    InputProjection { layer: usize },
    /// Step `step` of a layer, all directions (layer by layer).
    Step { layer: usize, step: usize },
    /// The projection h = W_hr·m after that step.
    OutputProjection { layer: usize, step: usize },
    /// Wavefront dispatch k: every layer l with 0 ≤ k − l < T, at step k − l.
    Wavefront { k: usize },
    /// Every step of a layer (the sequence kernel).
    Sequence { layer: usize },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Dispatch {
    pub kernel: KernelRef,
    /// Index into [`Resources::groups`].
    pub group: usize,
    /// Dynamic offset into the step parameters.
    pub offset: Option<u64>,
    /// Workgroups along x, y and z (checked against the device by `limits::check_plan`).
    pub grid: [u64; 3],
    pub part: Part,
}

/// The dispatches of one forward, in recording order.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// What runs (a forced wavefront the model cannot run is layer by layer here).
    pub variants: Variants,
    pub dispatches: Vec<Dispatch>,
}

impl Plan {
    /// The first dispatch of `part`.
    pub fn find(&self, part: Part) -> Option<&Dispatch> {
        self.dispatches.iter().find(|d| d.part == part)
    }

    /// Every kernel the plan dispatches, once each.
    pub fn kernels(&self) -> Vec<KernelRef> {
        let mut kernels: Vec<KernelRef> = Vec::new();
        for d in &self.dispatches {
            if !kernels.contains(&d.kernel) {
                kernels.push(d.kernel);
            }
        }
        kernels
    }
}

#[cfg(test)]
mod tests;
