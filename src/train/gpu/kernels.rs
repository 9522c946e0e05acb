//! The words of the training kernels' uniform blocks, mirrored from `shaders/train/params.wgsl`
//! and the kernels that name their own (checked against the WGSL by the tests). The kernels
//! themselves are in the registry (`gpu::shaders`).

pub(crate) use crate::backend::gpu::shaders::{
    TrainKernel, SEQ_GROUP, TRAIN_GEMM_TILE as GEMM_TILE, TRAIN_GEMM_WIDE as GEMM_WIDE,
    TRAIN_OPT_WORKGROUP as OPT_WORKGROUP, TRAIN_WORDS as WORDS,
};

/// A GEMM runs in tiles when each of M, N and K is at least this; otherwise direct.
pub(crate) const TILED_MIN: usize = 64;

/// Word indices of the sequence kernels (`shaders/train/params.wgsl`).
pub(crate) mod seq {
    pub const SEQ_LEN: usize = 0;
    pub const BATCH: usize = 1;
    pub const HIDDEN: usize = 2;
    pub const OUT: usize = 3;
    pub const DIRS: usize = 4;
    pub const REVERSE_MASK: usize = 5;
    pub const STRIDE_T: usize = 6;
    pub const STRIDE_B: usize = 7;
    pub const INPUT_FORGET: usize = 8;
    pub const CLIP: usize = 9;
    pub const FLAGS: usize = 10;
    pub const STATE_SLOT: usize = 11;
    pub const H0: usize = 12;
    pub const C0: usize = 13;
    pub const HN: usize = 14;
    pub const CN: usize = 15;
    pub const T_Y: usize = 16;
    pub const T_Z: usize = 17;
    pub const T_C: usize = 18;
    pub const T_CPREV: usize = 19;
    pub const T_HPREV: usize = 20;
    pub const T_M: usize = 21;
    pub const W_DG: usize = 22;
    pub const W_DH: usize = 23;
    pub const W_DCARRY: usize = 24;
    pub const W_PEEP: usize = 25;
    pub const P_W_HH: usize = 26;
    pub const P_B_IH: usize = 28;
    pub const P_B_HH: usize = 30;
    pub const P_PEEP: usize = 32;
    pub const P_W_HR: usize = 34;
    pub const ACT: usize = 36;
    pub const FLAG_BIAS: u32 = 1;
    pub const FLAG_PEEPHOLE: u32 = 2;
    pub const FLAG_PROJECTION: u32 = 4;
}

/// Word indices of the GEMM (`shaders/train/gemm.wgsl`).
pub(crate) mod gemm {
    pub const M: usize = 0;
    pub const N: usize = 1;
    pub const K: usize = 2;
    pub const A_OFF: usize = 3;
    pub const A_RS: usize = 4;
    pub const A_CS: usize = 5;
    pub const B_OFF: usize = 6;
    pub const B_RS: usize = 7;
    pub const B_CS: usize = 8;
    pub const C_OFF: usize = 9;
    pub const C_RS: usize = 10;
    pub const ACCUMULATE: usize = 11;
}

/// Word indices of the transpose (`shaders/train/transpose.wgsl`).
pub(crate) mod transpose {
    pub const ROWS: usize = 0;
    pub const COLS: usize = 1;
    pub const SRC: usize = 2;
    pub const DST: usize = 3;
}

/// Word indices of the optimizer kernels (`norm.wgsl`, `update.wgsl`).
pub(crate) mod opt {
    pub const COUNT: usize = 0;
    pub const KIND: usize = 1;
    pub const LR: usize = 2;
    pub const MOMENTUM: usize = 3;
    pub const BETA2: usize = 4;
    pub const EPS: usize = 5;
    pub const CORRECT1: usize = 6;
    pub const CORRECT2: usize = 7;
    pub const MAX_NORM: usize = 8;
}

#[cfg(test)]
#[path = "kernels_tests.rs"]
mod tests;
