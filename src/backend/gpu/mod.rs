//! The GPU path. A forward is a plan (`plan`): the buffers it needs and the dispatches it
//! records, worked out once and read by the limit checks, the workspace that allocates and
//! records it, the autotune that times slices of it, and the counters of [`ForwardStats`].
//!
//! Modules, leaves first: `scope` (error scopes), `params` (uniform blocks), `variants`,
//! `stats`, `shaders` (the kernel registry), `grid` (grids folded past the device's limit),
//! `packing` (weight layouts), `plan`, `limits`,
//! `pipelines` (compiled pipelines by kernel and constants), `readback`, `state`
//! ([`LstmState`]), `model` (resident weights), `workspace`, `tune` (autotune, its keys, store
//! and file), `cache` ([`PipelineCache`]), `context` ([`GpuContext`]) and `engine` ([`Lstm`]).
//! Training on the GPU builds on these (`crate::train::gpu`): its kernels are in the same
//! registry, its pipelines come from the same [`PipelineCache`], its grids fold the same way.

pub(crate) mod cache;
mod context;
mod engine;
pub(crate) mod grid;
mod int8;
pub(crate) mod limits;
mod model;
mod packing;
pub(crate) mod params;
pub(crate) mod pipelines;
pub(crate) mod plan;
pub(crate) mod readback;
pub(crate) mod rows;
pub(crate) mod scope;
pub(crate) mod shaders;
mod state;
pub(crate) mod stats;
mod tune;
mod variants;
pub(crate) mod workspace;

pub use cache::PipelineCache;
#[cfg(not(target_arch = "wasm32"))]
pub use context::enumerate_adapters;
pub use context::{choose_adapter, describe_adapter, supports_compute, AdapterRequest, GpuContext};
pub use engine::{EncodeTarget, Lstm, StateExport};
pub use rows::PoolGather;
pub use state::LstmState;
pub use stats::{ForwardStats, KernelPart, PassStats, TrainKernels, TrainStats};
pub use variants::{GemmVariant, Schedule, StepVariant, Variants};
