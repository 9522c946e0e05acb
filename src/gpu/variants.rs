//! Kernel variants and their choice. The input projection has a workgroup-tiled GEMM (fast where
//! workgroup memory is) and a register-blocked one without barriers (fast on software
//! rasterizers); the step kernel takes 1, 2, 4 or 8 batch elements (and 1 or 2 units) per invocation, or
//! splits the sum over k across a workgroup for small batches. A short autotune
//! picks the fastest the first time a shape class meets a device, and the choice is kept in the
//! device's [`PipelineCache`](super::PipelineCache). Stacked layers run one after another or as a
//! wavefront ([`Schedule`]).

use std::fmt;

use crate::config::LstmConfig;

/// How the input-projection GEMM runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmVariant {
    /// 64×64 tiles staged through workgroup memory, 4×4 register blocks (`input_projection.wgsl`).
    Tiled,
    /// No workgroup memory: 16 rows × 8 columns per invocation, W transposed
    /// (`input_projection_blocked.wgsl`).
    RegisterBlocked,
}

/// How the recurrent step runs: batch elements (and hidden units) per invocation; each loaded R
/// vec4 feeds as many multiply-adds as there are batch elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepVariant {
    Batch1,
    Batch2,
    Batch4,
    Batch8,
    /// Two hidden units and eight batch elements per invocation.
    Batch8Units2,
    /// Matrix-vector for small batches: a workgroup per 8 units of one batch element, the sum
    /// over k split across its 64 invocations and reduced in workgroup memory.
    SplitK,
    /// A layer's whole sequence in one dispatch: a workgroup per batch element and direction
    /// loops over every step, with a barrier between steps (small models, where a dispatch per
    /// step costs more than its work). Layer by layer, without projection and for P ≤ 2048.
    Sequence,
    /// The sequence kernel with each invocation's column of R held in registers for the whole
    /// sequence (adapters that run invocations as SIMD lanes of a CPU), for H and P ≤ 128.
    SequenceResident,
}

/// How the layers of a stack are ordered in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// Each layer's input projection, then its T steps, then the next layer: L·(1 + T) dispatches.
    Layers,
    /// Layer l at step t runs in the same dispatch as layer l + 1 at step t − 1: one input
    /// projection (layer 0's) and T + L − 1 step dispatches, layers ≥ 1 multiplying their input
    /// inside the step. Only for unidirectional stacks without projection and with a step that is
    /// not split-K ([`Variants::effective`]); elsewhere the layers run one after another.
    Wavefront,
}

impl Schedule {
    pub const ALL: [Schedule; 2] = [Schedule::Layers, Schedule::Wavefront];

    pub fn name(self) -> &'static str {
        match self {
            Schedule::Layers => "layers",
            Schedule::Wavefront => "wavefront",
        }
    }

    /// The schedule [`Schedule::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether a configuration can run as a wavefront: more than one layer, one direction and no
    /// projection (a bidirectional layer needs all of the layer below before its reverse pass).
    pub fn wavefront_fits(config: &LstmConfig) -> bool {
        config.num_layers > 1 && config.num_directions() == 1 && config.proj_size.is_none()
    }
}

impl GemmVariant {
    pub const ALL: [GemmVariant; 2] = [GemmVariant::Tiled, GemmVariant::RegisterBlocked];

    pub fn name(self) -> &'static str {
        match self {
            GemmVariant::Tiled => "gemm-tiled-64x64",
            GemmVariant::RegisterBlocked => "gemm-regblock-16x8",
        }
    }

    /// The variant [`GemmVariant::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl StepVariant {
    pub const ALL: [StepVariant; 8] = [
        StepVariant::Batch1,
        StepVariant::Batch2,
        StepVariant::Batch4,
        StepVariant::Batch8,
        StepVariant::Batch8Units2,
        StepVariant::SplitK,
        StepVariant::Sequence,
        StepVariant::SequenceResident,
    ];

    /// Batch elements per invocation.
    pub fn batch_block(self) -> u32 {
        match self {
            StepVariant::Batch1
            | StepVariant::SplitK
            | StepVariant::Sequence
            | StepVariant::SequenceResident => 1,
            StepVariant::Batch2 => 2,
            StepVariant::Batch4 => 4,
            StepVariant::Batch8 | StepVariant::Batch8Units2 => 8,
        }
    }

    /// Hidden units per invocation.
    pub fn units(self) -> u32 {
        match self {
            StepVariant::Batch8Units2 => 2,
            _ => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StepVariant::Batch1 => "step-b1",
            StepVariant::Batch2 => "step-b2",
            StepVariant::Batch4 => "step-b4",
            StepVariant::Batch8 => "step-b8",
            StepVariant::Batch8Units2 => "step-b8u2",
            StepVariant::SplitK => "step-splitk",
            StepVariant::Sequence => "step-sequence",
            StepVariant::SequenceResident => "step-sequence-resident",
        }
    }

    /// The variant [`StepVariant::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the variant has a wavefront kernel (all but split-K and the sequence kernels).
    pub fn runs_in_a_wavefront(self) -> bool {
        !matches!(self, StepVariant::SplitK) && !self.whole_sequence()
    }

    /// Whether one dispatch runs every step of a layer (the sequence kernels).
    pub fn whole_sequence(self) -> bool {
        matches!(self, StepVariant::Sequence | StepVariant::SequenceResident)
    }

    /// Whether the variant can run a layer of hidden size `h` and h size `p`, with or without
    /// a projection.
    pub fn fits(self, h: usize, p: usize, projected: bool) -> bool {
        match self {
            StepVariant::Sequence => !projected && p <= 2048,
            StepVariant::SequenceResident => !projected && h <= 128 && p <= 128,
            _ => true,
        }
    }

    /// The step an engine runs where nothing was timed: one batch element per invocation below
    /// a batch of 4, four above.
    pub fn untuned(batch: usize) -> StepVariant {
        if batch < 4 {
            StepVariant::Batch1
        } else {
            StepVariant::Batch4
        }
    }
}

/// A full choice of kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variants {
    pub gemm: GemmVariant,
    pub step: StepVariant,
    pub schedule: Schedule,
}

impl Variants {
    /// Every combination, for `conform --all-variants` (the wavefront with every step that has
    /// a wavefront kernel).
    pub fn all() -> Vec<Variants> {
        let mut all = Vec::new();
        for gemm in GemmVariant::ALL {
            for step in StepVariant::ALL {
                for schedule in Schedule::ALL {
                    let v = Variants { gemm, step, schedule };
                    if schedule == Schedule::Layers || step.runs_in_a_wavefront() {
                        all.push(v);
                    }
                }
            }
        }
        all
    }

    /// What runs for `config`: the wavefront falls back on layer-by-layer where the model or the
    /// step variant does not allow it, and a sequence kernel that does not fit the model
    /// ([`StepVariant::fits`]) on one batch element per invocation.
    pub fn effective(self, config: &LstmConfig) -> Variants {
        self.fitted(Schedule::wavefront_fits(config), config)
    }

    /// [`Variants::effective`], with whether the model's weights allow the wavefront.
    pub(crate) fn fitted(self, wavefront_fits: bool, config: &LstmConfig) -> Variants {
        let (h, p) = (config.hidden_size, config.output_size());
        let step = if self.step.fits(h, p, config.proj_size.is_some()) {
            self.step
        } else {
            StepVariant::Batch1
        };
        let wavefront = self.schedule == Schedule::Wavefront && wavefront_fits && step.runs_in_a_wavefront();
        Variants {
            step,
            schedule: if wavefront {
                Schedule::Wavefront
            } else {
                Schedule::Layers
            },
            ..self
        }
    }
}

impl fmt::Display for Variants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} + {} + {}",
            self.gemm.name(),
            self.step.name(),
            self.schedule.name()
        )
    }
}
