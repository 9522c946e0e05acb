//! The training kernels' constants the host relies on, and their parameters. The kernels
//! themselves are in the registry (`gpu::shaders`), their uniform blocks in `gpu::params`
//! (checked against the WGSL structs by the tests).

pub(crate) use crate::backend::gpu::params::{
    ActivationParams, MatmulParams, OptimizerParams, SeqParams, TransposeParams,
};
pub(crate) use crate::backend::gpu::shaders::{
    TrainKernel, SEQ_GROUP, TRAIN_GEMM_TILE as GEMM_TILE, TRAIN_GEMM_WIDE as GEMM_WIDE,
    TRAIN_OPT_WORKGROUP as OPT_WORKGROUP,
};

/// A GEMM runs in tiles when each of M, N and K is at least this; otherwise direct.
pub(crate) const TILED_MIN: usize = 64;

/// A dispatch's uniform block: the parameters of its kind of kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Params {
    Seq(SeqParams),
    Matmul(MatmulParams),
    Transpose(TransposeParams),
    Optimizer(OptimizerParams),
}

impl Params {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Params::Seq(p) => bytemuck::bytes_of(p),
            Params::Matmul(p) => bytemuck::bytes_of(p),
            Params::Transpose(p) => bytemuck::bytes_of(p),
            Params::Optimizer(p) => bytemuck::bytes_of(p),
        }
    }

    /// The largest block, which sets the stride between the blocks of a pass.
    pub const MAX_BYTES: usize = max(
        max(size_of::<SeqParams>(), size_of::<MatmulParams>()),
        max(size_of::<TransposeParams>(), size_of::<OptimizerParams>()),
    );
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
#[path = "kernels_tests.rs"]
mod tests;
