//! Uniform blocks shared with WGSL. Keep in sync with shaders/shared/params.wgsl.

use bytemuck::{Pod, Zeroable};

/// Keep in sync with `GemmParams` in shaders/shared/params.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct GemmParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub _pad: u32,
}

/// Keep in sync with `StepParams` in shaders/shared/params.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct StepParams {
    pub step: u32,
    pub seq_len: u32,
    pub batch: u32,
    pub hidden: u32,
    pub out_size: u32,
    pub directions: u32,
    pub reverse_mask: u32,
    pub stride_t: u32,
    pub stride_b: u32,
    pub layer: u32,
    pub layers: u32,
    pub y_half: u32,
    pub r_first: u32,
    pub r_stride: u32,
    /// The dispatch's logical z extent (D, or the layers of a wavefront dispatch), by which the
    /// kernel unfolds a y extent folded into z (`grid.rs`).
    pub grid_z: u32,
    pub _pad: u32,
}
