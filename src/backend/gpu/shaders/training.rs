//! The training kernels of the registry (`shaders/train/`): f32 only, each a uniform block (a
//! struct of `shaders/train/params.wgsl`, mirrored in `gpu::params`) followed by storage arrays. The sequence kernels exist
//! for one sequence per workgroup and for groups of [`SEQ_GROUP`]: the registry composes
//! `seq_group_1.wgsl` or `seq_group_8.wgsl` in front of the same body.

use super::{read, write, BindingKind, Kernel, WeightFormat, F32};
use crate::backend::gpu::params::{MatmulParams, OptimizerParams, SeqParams, TransposeParams};
use crate::cell::Cell;

/// Invocations along each side of a GEMM or transpose workgroup.
pub(crate) const TRAIN_GEMM_TILE: u32 = 16;
/// The tiled GEMM's output tile side (16 invocations × 4 outputs).
pub(crate) const TRAIN_GEMM_WIDE: u32 = 64;
/// Invocations of a training sequence-kernel workgroup.
pub(crate) const TRAIN_SEQ_WORKGROUP: u32 = 64;
/// Sequences one workgroup of a sequence kernel runs together, sharing each weight read, from
/// batches of this size up (smaller batches run one sequence per workgroup).
pub(crate) const SEQ_GROUP: usize = 8;
/// Invocations of the optimizer's workgroups.
pub(crate) const TRAIN_OPT_WORKGROUP: u32 = 256;

/// A uniform block of `T`, bound at an offset of the pass's uniform buffer.
const fn uniform<T>() -> BindingKind {
    BindingKind::Uniform {
        size: std::mem::size_of::<T>() as u64,
        dynamic: false,
    }
}
/// params, a, b, c (`C = A·B`, strided views).
const GEMM_BINDINGS: &[BindingKind] = &[uniform::<MatmulParams>(), read(F32), read(F32), write(F32)];
/// params, xp, lens, tape, state, packed (Rᵀ and W_hrᵀ).
const FORWARD_BINDINGS: &[BindingKind] = &[
    uniform::<SeqParams>(),
    read(F32),
    read(F32),
    read(4),
    write(F32),
    write(F32),
    read(F32),
];
/// params, tape, dy, lens, work, dstate.
const BACKWARD_BINDINGS: &[BindingKind] = &[
    uniform::<SeqParams>(),
    read(F32),
    read(F32),
    read(F32),
    read(4),
    write(F32),
    write(F32),
];

macro_rules! train_kernel {
    ($(#[$doc:meta])* $name:ident = $label:literal, [$($file:literal),+],
     workgroup_size: $size:expr, workgroup_bytes: $bytes:expr, bindings: $bindings:expr,
     consts: $consts:expr $(,)?) => {
        $(#[$doc])*
        pub(crate) const $name: Kernel = kernel!(@files $label, WeightFormat::F32, [$($file),+],
            $size, $bytes, $bindings, $consts, &[]);
    };
}

train_kernel! {
    /// `C = A·B` (accumulating when asked) in 64×64 output tiles, 4×4 per invocation.
    TRAIN_GEMM = "train_gemm", ["train/params.wgsl", "train/gemm.wgsl"],
    workgroup_size: [TRAIN_GEMM_TILE, TRAIN_GEMM_TILE, 1],
    // Two tiles of 64 × 16.
    workgroup_bytes: 2 * 1024 * F32,
    bindings: GEMM_BINDINGS,
    consts: &[("TILE", TRAIN_GEMM_TILE), ("WIDE", TRAIN_GEMM_WIDE)],
}

train_kernel! {
    /// `C = A·B`, one output per invocation without workgroup memory (a short side).
    TRAIN_GEMM_DIRECT = "train_gemm_direct", ["train/params.wgsl", "train/gemm_direct.wgsl"],
    workgroup_size: [TRAIN_GEMM_TILE, TRAIN_GEMM_TILE, 1],
    workgroup_bytes: 0,
    bindings: GEMM_BINDINGS,
    consts: &[("TILE", TRAIN_GEMM_TILE)],
}

/// A cell's training sequence kernels: the shared forward and backward bodies with the cell's
/// body (`train/cells/<cell>.wgsl`) composed in, for one sequence per workgroup and for groups of
/// [`SEQ_GROUP`].
pub(crate) struct TrainCellKernels {
    pub forward_single: Kernel,
    pub forward: Kernel,
    pub backward_single: Kernel,
    pub backward: Kernel,
}

macro_rules! train_cell_kernels {
    ($(#[$doc:meta])* $name:ident = $prefix:literal, $body:literal) => {
        $(#[$doc])*
        pub(crate) const $name: TrainCellKernels = TrainCellKernels {
            forward_single: train_cell_kernels!(@one concat!($prefix, "train_forward_single"),
                "train/seq_group_1.wgsl", $body, "train/forward.wgsl", FORWARD_BINDINGS, 1),
            forward: train_cell_kernels!(@one concat!($prefix, "train_forward"),
                "train/seq_group_8.wgsl", $body, "train/forward.wgsl", FORWARD_BINDINGS, SEQ_GROUP as u32),
            backward_single: train_cell_kernels!(@one concat!($prefix, "train_backward_single"),
                "train/seq_group_1.wgsl", $body, "train/backward.wgsl", BACKWARD_BINDINGS, 1),
            backward: train_cell_kernels!(@one concat!($prefix, "train_backward"),
                "train/seq_group_8.wgsl", $body, "train/backward.wgsl", BACKWARD_BINDINGS, SEQ_GROUP as u32),
        };
    };
    (@one $label:expr, $group:literal, $body:literal, $main:literal, $bindings:expr, $seq_group:expr) => {
        kernel!(@files $label, WeightFormat::F32,
            [$group, "train/params.wgsl", "shared/activations.wgsl", "train/cell.wgsl", $body, $main],
            [TRAIN_SEQ_WORKGROUP, 1, 1], 4, $bindings,
            &[("SEQ_WORKGROUP", TRAIN_SEQ_WORKGROUP), ("SEQ_GROUP", $seq_group)], &[])
    };
}

train_cell_kernels! {
    /// The LSTM's training sequence kernels (`train/cells/lstm.wgsl`).
    TRAIN_LSTM = "", "train/cells/lstm.wgsl"
}

train_cell_kernels! {
    /// The GRU's training sequence kernels (`train/cells/gru.wgsl`).
    TRAIN_GRU = "gru_", "train/cells/gru.wgsl"
}

train_cell_kernels! {
    /// The plain RNN's training sequence kernels (`train/cells/rnn.wgsl`).
    TRAIN_RNN = "rnn_", "train/cells/rnn.wgsl"
}

impl TrainCellKernels {
    /// The kernels of `cell`.
    pub fn of(cell: Cell) -> &'static TrainCellKernels {
        match cell {
            Cell::Lstm => &TRAIN_LSTM,
            Cell::Gru => &TRAIN_GRU,
            Cell::Rnn => &TRAIN_RNN,
        }
    }
}

train_kernel! {
    /// The squared global norm of the gradients (grads, norm_sq).
    TRAIN_NORM = "train_norm", ["train/params.wgsl", "train/norm.wgsl"],
    workgroup_size: [TRAIN_OPT_WORKGROUP, 1, 1],
    workgroup_bytes: TRAIN_OPT_WORKGROUP as u64 * F32,
    bindings: &[uniform::<OptimizerParams>(), read(F32), write(F32)],
    consts: &[("NORM_WORKGROUP", TRAIN_OPT_WORKGROUP)],
}

train_kernel! {
    /// SGD-momentum or Adam with global-norm clipping (weights, grads, moments, norm_sq).
    TRAIN_UPDATE = "train_update", ["train/params.wgsl", "train/update.wgsl"],
    workgroup_size: [TRAIN_OPT_WORKGROUP, 1, 1],
    workgroup_bytes: 0,
    bindings: &[uniform::<OptimizerParams>(), write(F32), read(F32), write(F32), read(F32)],
    consts: &[("UPDATE_WORKGROUP", TRAIN_OPT_WORKGROUP)],
}

train_kernel! {
    /// A matrix transposed (R and W_hr for the forward).
    TRAIN_TRANSPOSE = "train_transpose", ["train/params.wgsl", "train/transpose.wgsl"],
    workgroup_size: [TRAIN_GEMM_TILE, TRAIN_GEMM_TILE, 1],
    workgroup_bytes: 0,
    bindings: &[uniform::<TransposeParams>(), read(F32), write(F32)],
    consts: &[],
}

/// Every training kernel.
pub(crate) const TRAINING: [&Kernel; 17] = [
    &TRAIN_GEMM,
    &TRAIN_GEMM_DIRECT,
    &TRAIN_LSTM.forward_single,
    &TRAIN_LSTM.forward,
    &TRAIN_LSTM.backward_single,
    &TRAIN_LSTM.backward,
    &TRAIN_GRU.forward_single,
    &TRAIN_GRU.forward,
    &TRAIN_GRU.backward_single,
    &TRAIN_GRU.backward,
    &TRAIN_RNN.forward_single,
    &TRAIN_RNN.forward,
    &TRAIN_RNN.backward_single,
    &TRAIN_RNN.backward,
    &TRAIN_NORM,
    &TRAIN_UPDATE,
    &TRAIN_TRANSPOSE,
];

/// A training kernel as a pass dispatches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrainKernel {
    /// 16×16 invocations, 64×64 tiles through workgroup memory.
    Gemm,
    /// One output per invocation, no workgroup memory: for GEMMs with a short side.
    GemmDirect,
    /// The sequence kernels of a cell, running groups of this many sequences per workgroup (1
    /// or [`SEQ_GROUP`]): the shared sequence bodies with the cell's body
    /// (`train/cells/<cell>.wgsl`) composed in.
    Forward(Cell, usize),
    Backward(Cell, usize),
    Norm,
    Update,
    /// Weights transposed for the forward.
    Transpose,
}

impl TrainKernel {
    /// The registry's kernel.
    pub fn kernel(self) -> &'static Kernel {
        match self {
            TrainKernel::Gemm => &TRAIN_GEMM,
            TrainKernel::GemmDirect => &TRAIN_GEMM_DIRECT,
            TrainKernel::Forward(cell, 1) => &TrainCellKernels::of(cell).forward_single,
            TrainKernel::Forward(cell, _) => &TrainCellKernels::of(cell).forward,
            TrainKernel::Backward(cell, 1) => &TrainCellKernels::of(cell).backward_single,
            TrainKernel::Backward(cell, _) => &TrainCellKernels::of(cell).backward,
            TrainKernel::Norm => &TRAIN_NORM,
            TrainKernel::Update => &TRAIN_UPDATE,
            TrainKernel::Transpose => &TRAIN_TRANSPOSE,
        }
    }
}
