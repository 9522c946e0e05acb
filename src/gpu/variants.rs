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
    pub const ALL: [StepVariant; 6] = [
        StepVariant::Batch1,
        StepVariant::Batch2,
        StepVariant::Batch4,
        StepVariant::Batch8,
        StepVariant::Batch8Units2,
        StepVariant::SplitK,
    ];

    /// Batch elements per invocation.
    pub fn batch_block(self) -> u32 {
        match self {
            StepVariant::Batch1 | StepVariant::SplitK => 1,
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
        }
    }

    /// The variant [`StepVariant::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
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
    /// Every combination, for `conform --all-variants` (the wavefront with every step but
    /// split-K).
    pub fn all() -> Vec<Variants> {
        let mut all = Vec::new();
        for gemm in GemmVariant::ALL {
            for step in StepVariant::ALL {
                for schedule in Schedule::ALL {
                    let v = Variants { gemm, step, schedule };
                    if v.schedule == v.wavefront_or_layers(true).schedule {
                        all.push(v);
                    }
                }
            }
        }
        all
    }

    /// What runs for `config`: the wavefront falls back on layer-by-layer where the model or the
    /// step variant does not allow it.
    pub fn effective(self, config: &LstmConfig) -> Variants {
        self.wavefront_or_layers(Schedule::wavefront_fits(config))
    }

    /// The wavefront where the model can run it (`model_fits`) and the step is not split-K,
    /// else layer by layer.
    pub(crate) fn wavefront_or_layers(self, model_fits: bool) -> Variants {
        let wavefront =
            self.schedule == Schedule::Wavefront && model_fits && self.step != StepVariant::SplitK;
        Variants {
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
