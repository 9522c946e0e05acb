//! Kernel variants and their choice. The input projection has workgroup-tiled GEMMs of several
//! tile shapes (fast where workgroup memory is) and a register-blocked one without barriers (fast
//! on software rasterizers). The recurrent step takes 1–8 batch elements (and 1 or 2 units) per
//! invocation, splits the sum over k across a workgroup for small batches, stages tiles of R and
//! h in workgroup memory for large batches, or runs a layer's whole sequence in one dispatch for
//! small models. A short autotune picks the fastest the first time a shape class meets a device,
//! and the choice is kept in the device's [`PipelineCache`](super::PipelineCache). Stacked layers
//! run one after another or as a wavefront ([`Schedule`]).

use std::fmt;

use crate::config::LstmConfig;

/// The largest H and P of the register-resident sequence kernel (its largest size, in
/// `shaders::STEP_SEQUENCE_RESIDENT_SIZES`).
pub(crate) const SEQUENCE_RESIDENT_MAX: usize = 512;

/// How the input-projection GEMM runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmVariant {
    /// `m × n` output tiles staged through workgroup memory in slices of `k`, contiguous
    /// `m/16 × n/16` register blocks (`input_projection.wgsl`); the shapes of [`GemmVariant::ALL`].
    Tiled { m: u32, n: u32, k: u32 },
    /// No workgroup memory: 16 rows × 8 columns per invocation, W transposed
    /// (`input_projection_blocked.wgsl`).
    RegisterBlocked,
}

/// How the recurrent step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepVariant {
    /// One batch element per invocation; each loaded R vec4 feeds its multiply-adds.
    Batch1,
    Batch2,
    Batch4,
    Batch8,
    /// Two hidden units and eight batch elements per invocation.
    Batch8Units2,
    /// Matrix-vector for small batches: a workgroup per `units` hidden units of `batch` batch
    /// elements, its 128 invocations splitting the sum over k (neighbouring invocations on
    /// neighbouring units) and reducing in workgroup memory (`step_splitk.wgsl`).
    SplitK {
        units: u32,
        batch: u32,
    },
    /// For large batches: a workgroup per `units` hidden units of `batch` batch elements stages
    /// slices of R and h in workgroup memory, so R is read once per `batch` elements
    /// (`step_tiled.wgsl`).
    Tiled {
        units: u32,
        batch: u32,
    },
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
    /// Each layer's input projection, then its steps, then the next layer: L·(1 + T) dispatches
    /// (L·2 with a sequence kernel).
    Layers,
    /// Layer l at step t runs in the same dispatch as layer l + 1 at step t − 1: one input
    /// projection (layer 0's) and T + L − 1 step dispatches, layers ≥ 1 multiplying their input
    /// inside the step. Only for unidirectional stacks without projection and with a step that
    /// has a wavefront kernel ([`Variants::effective`]); elsewhere the layers run one after
    /// another.
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
    /// Every variant: four tile shapes within 16 KiB of workgroup memory, and register-blocked.
    pub const ALL: [GemmVariant; 5] = [
        GemmVariant::Tiled { m: 64, n: 64, k: 16 },
        GemmVariant::Tiled { m: 128, n: 64, k: 16 },
        GemmVariant::Tiled { m: 64, n: 128, k: 16 },
        GemmVariant::Tiled { m: 128, n: 128, k: 8 },
        GemmVariant::RegisterBlocked,
    ];

    /// The tiled GEMM of the smallest tiles.
    pub const TILED: GemmVariant = GemmVariant::ALL[0];

    pub fn name(self) -> String {
        match self {
            GemmVariant::Tiled { m, n, k } => format!("gemm-tiled-{m}x{n}x{k}"),
            GemmVariant::RegisterBlocked => "gemm-regblock-16x8".into(),
        }
    }

    /// The variant [`GemmVariant::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl StepVariant {
    /// Every variant the engine offers.
    pub const ALL: [StepVariant; 12] = [
        StepVariant::Batch1,
        StepVariant::Batch2,
        StepVariant::Batch4,
        StepVariant::Batch8,
        StepVariant::Batch8Units2,
        StepVariant::SplitK { units: 16, batch: 1 },
        StepVariant::SplitK { units: 32, batch: 2 },
        StepVariant::SplitK { units: 16, batch: 4 },
        StepVariant::Tiled { units: 16, batch: 64 },
        StepVariant::Tiled { units: 8, batch: 32 },
        StepVariant::Sequence,
        StepVariant::SequenceResident,
    ];

    /// Batch elements per invocation (per workgroup for split-K and tiled).
    pub fn batch_block(self) -> u32 {
        match self {
            StepVariant::Batch1 | StepVariant::Sequence | StepVariant::SequenceResident => 1,
            StepVariant::Batch2 => 2,
            StepVariant::Batch4 => 4,
            StepVariant::Batch8 | StepVariant::Batch8Units2 => 8,
            StepVariant::SplitK { batch, .. } | StepVariant::Tiled { batch, .. } => batch,
        }
    }

    /// Hidden units per invocation (per workgroup for split-K and tiled).
    pub fn units(self) -> u32 {
        match self {
            StepVariant::Batch8Units2 => 2,
            StepVariant::SplitK { units, .. } | StepVariant::Tiled { units, .. } => units,
            _ => 1,
        }
    }

    pub fn name(self) -> String {
        match self {
            StepVariant::Batch1 => "step-b1".into(),
            StepVariant::Batch2 => "step-b2".into(),
            StepVariant::Batch4 => "step-b4".into(),
            StepVariant::Batch8 => "step-b8".into(),
            StepVariant::Batch8Units2 => "step-b8u2".into(),
            StepVariant::SplitK { units, batch } => format!("step-splitk-{units}x{batch}"),
            StepVariant::Tiled { units, batch } => format!("step-tiled-{units}x{batch}"),
            StepVariant::Sequence => "step-sequence".into(),
            StepVariant::SequenceResident => "step-sequence-resident".into(),
        }
    }

    /// The variant [`StepVariant::name`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the variant has a wavefront kernel (those of `step.wgsl`).
    pub fn runs_in_a_wavefront(self) -> bool {
        matches!(
            self,
            StepVariant::Batch1
                | StepVariant::Batch2
                | StepVariant::Batch4
                | StepVariant::Batch8
                | StepVariant::Batch8Units2
        )
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
            StepVariant::SequenceResident => {
                !projected && h <= SEQUENCE_RESIDENT_MAX && p <= SEQUENCE_RESIDENT_MAX
            }
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
    /// A set of combinations that runs every kernel variant: each GEMM with one step, and each
    /// step (layer by layer, and as a wavefront where it has a wavefront kernel) with one GEMM,
    /// for `conform --all-variants` and the tests.
    pub fn all() -> Vec<Variants> {
        let base = Variants {
            gemm: GemmVariant::RegisterBlocked,
            step: StepVariant::Batch4,
            schedule: Schedule::Layers,
        };
        let mut all: Vec<Variants> = GemmVariant::ALL
            .into_iter()
            .enumerate()
            .map(|(n, gemm)| Variants {
                gemm,
                // The GEMMs meet different steps too.
                step: StepVariant::ALL[n % 5],
                ..base
            })
            .collect();
        for (n, step) in StepVariant::ALL.into_iter().enumerate() {
            let gemm = GemmVariant::ALL[n % GemmVariant::ALL.len()];
            for schedule in Schedule::ALL {
                let v = Variants { gemm, step, schedule };
                if (schedule == Schedule::Layers || step.runs_in_a_wavefront()) && !all.contains(&v) {
                    all.push(v);
                }
            }
        }
        all
    }

    /// What runs for `config`: the wavefront falls back on layer-by-layer where the model or the
    /// step variant does not allow it, and a sequence kernel that does not fit the model
    /// ([`StepVariant::fits`]) on one batch element per invocation. A GRU without
    /// `linear_before_reset` runs the sequence kernel whatever was asked: its two dependent
    /// products per step need the workgroup barrier between them that only a workgroup holding
    /// every unit of a sequence has.
    pub fn effective(self, config: &LstmConfig) -> Variants {
        self.fitted(Schedule::wavefront_fits(config), config)
    }

    /// [`Variants::effective`], with whether the model's weights allow the wavefront.
    pub(crate) fn fitted(self, wavefront_fits: bool, config: &LstmConfig) -> Variants {
        let (h, p) = (config.hidden_size, config.output_size());
        let step = if config.resets_before_product() {
            StepVariant::Sequence
        } else if self.step.fits(h, p, config.proj_size.is_some()) {
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
