//! wgpu-lstm: LSTM networks on any GPU wgpu reaches, with a CPU reference that checks them.
//!
//! Data path: weights ([`LstmWeights`], loaded in a [`Convention`]) and a [`LstmConfig`] build
//! either the GPU engine ([`gpu::Lstm`]) or the CPU reference ([`cpu::CpuLstm`]); both take the
//! same input ([`Tensor`], optional [`State`] and sequence lengths) and return an [`Output`].

pub mod activation;
pub mod config;
pub mod conform;
pub mod convention;
pub mod cpu;
pub mod error;
pub mod files;
pub mod forward;
pub mod gpu;
pub mod tensor;
pub mod weights;

pub use activation::{Activation, ActivationKind};
pub use config::{Direction, Layout, LstmConfig};
pub use convention::Convention;
pub use cpu::CpuLstm;
pub use error::{Error, Result};
pub use forward::{Output, State};
pub use gpu::{GpuContext, Lstm};
pub use tensor::Tensor;
pub use weights::{DirectionWeights, LstmWeights};

/// Compiles and runs the README's code blocks as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
