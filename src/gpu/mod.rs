//! The GPU path. A forward is a plan (`plan`): the buffers it needs and the dispatches it
//! records, worked out once and read by the limit checks, the workspace that allocates and
//! records it, the autotune that times slices of it, and the counters of [`ForwardStats`].
//!
//! Modules, leaves first: `scope` (error scopes), `params` (uniform blocks), `variants`,
//! `stats`, `shaders` (the kernel registry), `packing` (weight layouts), `plan`, `limits`,
//! `pipelines` (compiled pipelines by kernel and constants), `readback`, `state`
//! ([`LstmState`]), `model` (resident weights), `workspace`, `tune` (autotune, its keys, store
//! and file), `cache` ([`PipelineCache`]), `context` ([`GpuContext`]) and `engine` ([`Lstm`]).
//! Training stands beside the engine: `train` ([`TrainLstm`], [`Trainer`]) and the list of
//! dispatches each pass records, with its kernels in the same registry and its pipelines from
//! the same [`PipelineCache`].

mod cache;
mod context;
mod engine;
mod limits;
mod model;
mod packing;
mod params;
mod pipelines;
mod plan;
mod readback;
mod scope;
mod shaders;
mod state;
mod stats;
mod train;
mod tune;
mod variants;
mod workspace;

pub use cache::PipelineCache;
#[cfg(not(target_arch = "wasm32"))]
pub use context::enumerate_adapters;
pub use context::{choose_adapter, describe_adapter, supports_compute, AdapterRequest, GpuContext};
pub use engine::{EncodeTarget, Lstm, StateExport};
pub use shaders::SHADER_DIR_VARIABLE;
pub use state::LstmState;
pub use stats::{ForwardStats, KernelPart};
pub use train::{PassStats, Tape, TrainLstm, TrainStats, Trainer};
pub use variants::{GemmVariant, Schedule, StepVariant, Variants};
