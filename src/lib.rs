//! wgpu-lstm: LSTM networks on any GPU wgpu reaches, with a CPU reference that checks them.
//!
//! Data path: weights ([`LstmWeights`], loaded in a [`Convention`]) and a [`LstmConfig`] build
//! either the GPU engine ([`Lstm`]) or the CPU reference ([`CpuLstm`]); both implement
//! [`LstmForward`], take the same input ([`Tensor`], optional [`State`] and sequence lengths)
//! and return an [`Output`]. [`gpu`] holds the embedding API (caller devices, encoders and
//! buffers, GPU-resident state, kernel variants); [`conform`] the GPU-vs-CPU conformance cases, compared under an [`ErrorBound`].

mod activation;
pub mod bench;
mod config;
pub mod conform;
mod convention;
mod cpu;
mod error;
mod error_model;
mod files;
mod forward;
pub mod gpu;
pub mod onnx;
mod tensor;
pub mod train;
mod weights;

pub use activation::{Activation, ActivationKind};
pub use config::{Contradiction, Direction, GateOptions, Layout, LstmConfig, Precision};
pub use convention::Convention;
pub use cpu::CpuLstm;
pub use error::{BoxError, Dim, Error, GpuError, OnnxProblem, Result, ShapeSpec};
pub use error_model::{
    Comparison, ErrorBound, WorstElement, ABSOLUTE_ROUNDOFFS, RELATIVE_ROUNDOFFS, UNIT_ROUNDOFF,
};
pub use files::ReadLimits;
pub use forward::{chunk_lengths, Dims, LstmForward, Output, State, OUTPUT_FILES};
pub use gpu::{GpuContext, Lstm};
pub use tensor::{read_lengths_npy, read_lengths_npy_with, Tensor};
pub use train::cpu::CpuTape;
pub use train::{Gradients, Optimizer, OptimizerKind};
pub use weights::{DirectionWeights, LstmWeights, MAX_SAFETENSORS_HEADER};

/// Compiles and runs the README's code blocks as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
