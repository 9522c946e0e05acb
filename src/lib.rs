//! wgpu-lstm: LSTM networks on any GPU wgpu reaches, with a CPU reference that checks them.
//!
//! Data path: weights ([`LstmWeights`], loaded in a [`Convention`]) and a [`LstmConfig`] build
//! either the GPU engine ([`Lstm`]) or the CPU reference ([`CpuLstm`]); both implement
//! [`LstmForward`], take the same input ([`Tensor`], optional [`State`] and sequence lengths)
//! and return an [`Output`]. [`gpu`] holds the embedding API (caller devices, encoders and
//! buffers, GPU-resident state, kernel variants); [`conform`] the GPU-vs-CPU conformance cases, compared under an [`ErrorBound`].

mod activation;
mod backend;
pub mod bench;
mod cell;
mod config;
pub mod conform;
mod convention;
mod error;
mod error_model;
mod files;
mod forward;
mod model_file;
pub mod onnx;
mod pool;
mod tensor;
pub mod train;
mod weights;

pub use activation::{Activation, ActivationKind};
pub use backend::cpu::CpuLstm;
pub use backend::gpu::{GpuContext, Lstm, PoolGather};
pub use cell::Cell;
pub use config::{Contradiction, Direction, GateOptions, Layout, LstmConfig, Precision};
pub use convention::Convention;
pub use error::{escape_text, BoxError, Dim, Error, GpuError, OnnxProblem, Result, ShapeSpec};
pub use error_model::{
    Comparison, ErrorBound, WorstElement, ABSOLUTE_ROUNDOFFS, GRADIENT_ABSOLUTE_ROUNDOFFS,
    GRADIENT_RELATIVE_ROUNDOFFS, RELATIVE_ROUNDOFFS, UNIT_ROUNDOFF,
};
pub use files::ReadLimits;
pub use forward::{chunk_lengths, Dims, LstmForward, Output, State, OUTPUT_FILES};
pub use pool::{PoolEngine, StreamId, StreamPool};
pub use tensor::{read_lengths_npy, read_lengths_npy_with, Tensor};
pub use train::cpu::CpuTape;
pub use train::{Gradients, Optimizer, OptimizerKind};
pub use weights::{DirectionWeights, LstmWeights, MAX_SAFETENSORS_HEADER};

/// The GPU API: the engine ([`Lstm`]) and its context, caller devices, encoders and buffers,
/// GPU-resident state, kernel variants, and training on the GPU ([`TrainLstm`], [`Trainer`]).
/// The engine lives in the GPU backend, training on top of it; this module gathers both.
pub mod gpu {
    #[cfg(not(target_arch = "wasm32"))]
    pub use crate::backend::gpu::enumerate_adapters;
    pub use crate::backend::gpu::{
        choose_adapter, describe_adapter, supports_compute, AdapterRequest, EncodeTarget, ForwardStats,
        GemmVariant, GpuContext, KernelPart, Lstm, LstmState, PassStats, PipelineCache, Schedule,
        StateExport, StepVariant, TrainKernels, TrainStats, Variants,
    };
    pub use crate::train::gpu::{Tape, TrainLstm, Trainer};
}

/// Compiles and runs the README's code blocks as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Compiles and runs the code blocks of `docs/library.md` as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
pub struct LibraryDoctests;

/// Compiles and runs the code blocks of `docs/training.md` as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/training.md")]
pub struct TrainingDoctests;
