//! What a GPU job did, counted the same way for every job ([`PassStats`]: a forward, a training
//! forward, backward or optimizer step), a forward's with its timings and kernels
//! ([`ForwardStats`]), and the kernels a benchmark can time alone ([`KernelPart`]).

use serde::{Deserialize, Serialize};

use super::shaders::{Kernel, TRAINING};
use super::variants::Variants;

/// What one pass did: the dispatches its plan lists, and the uploads, submissions and readbacks
/// as it makes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassStats {
    pub dispatches: u32,
    /// Queue submissions (0 when encoding into the caller's encoder, or recorded into another
    /// pass's submission).
    pub submits: u32,
    /// Buffers mapped for reading.
    pub readbacks: u32,
    /// Bytes written to the GPU from the host.
    pub bytes_uploaded: u64,
    /// Bytes read back to the host.
    pub bytes_downloaded: u64,
}

impl PassStats {
    /// A pass of the `dispatches` its plan lists, nothing moved yet.
    pub(crate) fn planned(dispatches: usize) -> PassStats {
        PassStats {
            dispatches: dispatches as u32,
            ..PassStats::default()
        }
    }

    pub(crate) fn upload(&mut self, bytes: u64) {
        self.bytes_uploaded += bytes;
    }

    pub(crate) fn submit(&mut self) {
        self.submits += 1;
    }

    pub(crate) fn read_back(&mut self, bytes: u64) {
        self.readbacks += 1;
        self.bytes_downloaded += bytes;
    }
}

/// What one forward did, for checking the engine's structure and for benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardStats {
    /// Compute dispatches recorded.
    pub dispatches: u32,
    /// Queue submissions (0 when encoding into the caller's encoder).
    pub submits: u32,
    /// Buffers mapped for reading (0 when encoding into the caller's encoder).
    pub readbacks: u32,
    /// Buffer-to-buffer copies recorded (the state into the working buffers and back, Y out; a
    /// stream pool's step copies each run of consecutive streams per layer).
    pub copies: u32,
    /// Bytes written to the GPU from the host (input, lengths, initial state).
    pub bytes_uploaded: u64,
    /// Bytes read back to the host.
    pub bytes_downloaded: u64,
    /// Host time spent recording the commands (encoder creation to finish), in nanoseconds.
    pub record_ns: u64,
    /// GPU time of the compute work, from timestamp queries, in nanoseconds; `None` where the
    /// device has no `TIMESTAMP_QUERY` feature (or when encoding into the caller's encoder).
    pub gpu_ns: Option<u64>,
    /// The kernels that ran.
    pub variants: Variants,
    /// Submissions the autotune made before this call's own (only the first time a shape class
    /// meets the device).
    pub autotune_submits: u32,
    /// Host time those took, compiling the candidates included, in nanoseconds.
    pub autotune_ns: u64,
}

impl ForwardStats {
    /// The forward's counters as a [`PassStats`].
    pub fn pass(&self) -> PassStats {
        PassStats {
            dispatches: self.dispatches,
            submits: self.submits,
            readbacks: self.readbacks,
            bytes_uploaded: self.bytes_uploaded,
            bytes_downloaded: self.bytes_downloaded,
        }
    }

    /// Set the forward's counters from `pass`.
    pub(crate) fn count(&mut self, pass: PassStats) {
        self.dispatches = pass.dispatches;
        self.submits = pass.submits;
        self.readbacks = pass.readbacks;
        self.bytes_uploaded = pass.bytes_uploaded;
        self.bytes_downloaded = pass.bytes_downloaded;
    }

    /// Nothing done yet, with the kernels that will run.
    pub(crate) fn new(variants: Variants) -> Self {
        ForwardStats {
            dispatches: 0,
            submits: 0,
            readbacks: 0,
            copies: 0,
            bytes_uploaded: 0,
            bytes_downloaded: 0,
            record_ns: 0,
            gpu_ns: None,
            variants,
            autotune_submits: 0,
            autotune_ns: 0,
        }
    }
}

/// One kernel of a forward, for timing it alone ([`Lstm::encode_kernel`](super::Lstm::encode_kernel)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelPart {
    /// The input-projection GEMM of a layer (all timesteps, all directions).
    InputProjection { layer: usize },
    /// One recurrent step of a layer (all directions); under the wavefront schedule, the
    /// dispatch in which the layer takes its first step, together with the layers below it.
    Step { layer: usize },
}

/// The last forward, backward and optimizer step of a
/// [`TrainLstm`](crate::gpu::TrainLstm).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainStats {
    pub forward: PassStats,
    pub backward: PassStats,
    /// The optimizer's dispatches are counted here; a [`Trainer::step`](crate::gpu::Trainer::step)
    /// records the backward and the update in one submission (counted under `backward`).
    pub optimizer: PassStats,
    /// The training kernels the last forward and the backward and optimizer steps after it
    /// dispatched.
    pub kernels: TrainKernels,
}

/// A set of the registry's training kernels (`shaders/train/`), by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainKernels(u32);

impl TrainKernels {
    /// Every training kernel.
    pub fn all() -> TrainKernels {
        TrainKernels((1u32 << TRAINING.len()) - 1)
    }

    pub(crate) fn with(self, kernel: &'static Kernel) -> TrainKernels {
        match TRAINING.iter().position(|k| k.name == kernel.name) {
            Some(i) => TrainKernels(self.0 | 1 << i),
            None => self,
        }
    }

    pub fn union(self, other: TrainKernels) -> TrainKernels {
        TrainKernels(self.0 | other.0)
    }

    /// The kernels of `self` that `other` lacks.
    pub fn without(self, other: TrainKernels) -> TrainKernels {
        TrainKernels(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, name: &str) -> bool {
        self.names().contains(&name)
    }

    /// The kernels' names (`train_forward_single`, …), in the registry's order.
    pub fn names(self) -> Vec<&'static str> {
        TRAINING
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & 1 << i != 0)
            .map(|(_, k)| k.name)
            .collect()
    }
}

impl std::fmt::Display for TrainKernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().join(", "))
    }
}
