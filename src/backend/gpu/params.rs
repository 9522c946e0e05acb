//! Uniform blocks shared with WGSL: the forward's (shaders/shared/params.wgsl) and training's
//! (shaders/train/params.wgsl).

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

/// One activation of a direction in the training kernels' parameters. Keep in sync with
/// `Activation` in shaders/train/params.wgsl (as every struct below with its namesake there; the
/// training kernels' unit tests compare them member by member).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct ActivationParams {
    pub kind: u32,
    pub alpha: f32,
    pub beta: f32,
    pub _pad: u32,
}

/// The training sequence kernels' parameters, for one layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct SeqParams {
    pub seq_len: u32,
    pub batch: u32,
    pub hidden: u32,
    pub out: u32,
    pub dirs: u32,
    /// Bit d: direction d reads the sequence backwards.
    pub reverse_mask: u32,
    pub stride_t: u32,
    pub stride_b: u32,
    pub input_forget: u32,
    /// 0: none.
    pub clip: f32,
    /// `SeqParams::FLAG_*`.
    pub flags: u32,
    /// l·D·B: the layer's first state slot.
    pub state_slot: u32,
    /// Offsets in the state buffer (forward) or the state-gradient buffer (backward).
    pub h0: u32,
    pub c0: u32,
    pub hn: u32,
    pub cn: u32,
    /// Offsets of this layer's record in the tape.
    pub t_y: u32,
    pub t_z: u32,
    pub t_c: u32,
    pub t_cprev: u32,
    pub t_hprev: u32,
    pub t_m: u32,
    /// Backward: offsets in the work buffer.
    pub w_dg: u32,
    pub w_dh: u32,
    pub w_dcarry: u32,
    pub w_peep: u32,
    /// Offsets of each direction's tensors in the flat weights.
    pub w_hh: [u32; 2],
    pub b_ih: [u32; 2],
    pub b_hh: [u32; 2],
    pub peep: [u32; 2],
    pub w_hr: [u32; 2],
    /// Direction d's (f, g, h) at 3·d.
    pub act: [ActivationParams; 6],
}

impl SeqParams {
    pub const FLAG_BIAS: u32 = 1;
    pub const FLAG_PEEPHOLE: u32 = 2;
    pub const FLAG_PROJECTION: u32 = 4;
    pub const FLAG_RESET_BEFORE: u32 = 8;
}

/// The training GEMMs: C (+)= A·B over strided views, A[m, k] = a[a_off + m·a_rs + k·a_cs],
/// B[k, n] = b[b_off + k·b_rs + n·b_cs], C[m, n] = c[c_off + m·c_rs + n].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub a_off: u32,
    pub a_rs: u32,
    pub a_cs: u32,
    pub b_off: u32,
    pub b_rs: u32,
    pub b_cs: u32,
    pub c_off: u32,
    pub c_rs: u32,
    pub accumulate: u32,
}

/// The transpose: dst[dst_off + c·rows + r] = src[src_off + r·cols + c].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct TransposeParams {
    pub rows: u32,
    pub cols: u32,
    pub src_off: u32,
    pub dst_off: u32,
}

/// The optimizer's norm and update.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct OptimizerParams {
    pub count: u32,
    /// 0 SGD, 1 Adam.
    pub kind: u32,
    pub lr: f32,
    /// SGD momentum, or Adam β₁.
    pub momentum: f32,
    pub beta2: f32,
    pub eps: f32,
    /// 1 − β₁ᵗ and 1 − β₂ᵗ.
    pub correct1: f32,
    pub correct2: f32,
    /// 0: no clipping.
    pub max_norm: f32,
}

/// Keep in sync with `PoolRowsParams` in shaders/shared/params.wgsl: one move of a stream pool's
/// rows (`shaders/pool_rows.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct PoolRowsParams {
    pub layers: u32,
    pub rows: u32,
    pub pool_batch: u32,
    pub width: u32,
    pub work_at: u32,
    pub scatter: u32,
    pub _pad: [u32; 2],
}
