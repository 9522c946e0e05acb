//! The kernel registry, the only place WGSL files are named: each kernel's source (shared snippets
//! concatenated in front), its workgroup size, workgroup memory and bind-group layout, the WGSL
//! constants the host mirrors and the overrides it sets. The unit tests below read all of these
//! back from the WGSL through naga.

use std::num::NonZeroU64;

use super::params::{GemmParams, StepParams};
use super::variants::{GemmVariant, Schedule, StepVariant};
use crate::config::LstmConfig;

/// How one binding of a kernel is used; the host builds its bind-group layout from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BindingKind {
    /// A uniform block of `size` bytes, bound with a dynamic offset when `dynamic`.
    Uniform { size: u64, dynamic: bool },
    /// A storage array of elements of `element` bytes.
    Storage { read_only: bool, element: u64 },
}

/// A compute kernel: entry point `main` in a WGSL source. The tests read every field back from
/// the WGSL.
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Kernel {
    pub name: &'static str,
    /// The WGSL files it is made of, relative to `shaders/`, in order.
    pub files: &'static [&'static str],
    /// The concatenated source.
    pub source: &'static str,
    /// `@workgroup_size`.
    pub workgroup_size: [u32; 3],
    /// Bytes of `var<workgroup>` memory.
    pub workgroup_bytes: u64,
    /// Bindings 0.. of group 0.
    pub bindings: &'static [BindingKind],
    /// WGSL `const`s whose values the host relies on, with those values.
    pub consts: &'static [(&'static str, u32)],
    /// The pipeline-overridable constants the host sets.
    pub overrides: &'static [&'static str],
}

pub(crate) const ENTRY_POINT: &str = "main";

macro_rules! wgsl {
    ($($file:literal),+ $(,)?) => {
        (
            &[$($file),+],
            concat!($(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file)), "\n"),+),
        )
    };
}

const INPUT_PROJECTION_FILES: (&[&str], &str) = wgsl!("shared/params.wgsl", "input_projection.wgsl");
const INPUT_PROJECTION_BLOCKED_FILES: (&[&str], &str) =
    wgsl!("shared/params.wgsl", "input_projection_blocked.wgsl");
const OUTPUT_PROJECTION_FILES: (&[&str], &str) = wgsl!("shared/params.wgsl", "output_projection.wgsl");
const STEP_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "step.wgsl"
);
const STEP_SPLITK_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "shared/splitk.wgsl",
    "step_splitk.wgsl"
);
const STEP_SEQUENCE_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "step_sequence.wgsl"
);
const STEP_SEQUENCE_RESIDENT_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "step_sequence_resident.wgsl"
);
const STEP_SEQUENCE_RESIDENT_SUBGROUP_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "step_sequence_resident_subgroup.wgsl"
);
const STEP_SPLITK_SUBGROUP_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "shared/splitk.wgsl",
    "step_splitk_subgroup.wgsl"
);

const F32: u64 = 4;
const VEC4: u64 = 16;

/// Side of the output tile one tiled projection workgroup computes (64×64).
pub(crate) const INPUT_PROJECTION_TILE: u32 = 64;
/// K slice the tiled projection stages through workgroup memory per iteration.
const INPUT_PROJECTION_TILE_K: u32 = 16;
/// Rows of XP one register-blocked projection invocation computes.
pub(crate) const INPUT_PROJECTION_BLOCKED_ROWS: u32 = 16;
/// vec4 columns of XP one register-blocked projection invocation computes.
pub(crate) const INPUT_PROJECTION_BLOCKED_COLUMNS: u32 = 2;
/// Invocations per register-blocked projection workgroup.
pub(crate) const INPUT_PROJECTION_BLOCKED_WORKGROUP: u32 = 64;
/// Hidden units (or projected outputs) per step workgroup.
pub(crate) const STEP_WORKGROUP: u32 = 64;
/// Hidden units one split-K step workgroup owns.
pub(crate) const STEP_SPLITK_UNITS: u32 = 8;
/// Invocations of a split-K workgroup, each summing every SPLIT-th k.
pub(crate) const STEP_SPLITK_SPLIT: u32 = 64;

const GEMM_UNIFORM: BindingKind = BindingKind::Uniform {
    size: std::mem::size_of::<GemmParams>() as u64,
    dynamic: false,
};
const STEP_UNIFORM: BindingKind = BindingKind::Uniform {
    size: std::mem::size_of::<StepParams>() as u64,
    dynamic: true,
};
const fn read(element: u64) -> BindingKind {
    BindingKind::Storage {
        read_only: true,
        element,
    }
}
const fn write(element: u64) -> BindingKind {
    BindingKind::Storage {
        read_only: false,
        element,
    }
}

/// `XP = X·Wᵀ + b` for all timesteps of a layer, tiled through workgroup memory.
pub(crate) const INPUT_PROJECTION: Kernel = Kernel {
    name: "input_projection",
    files: INPUT_PROJECTION_FILES.0,
    source: INPUT_PROJECTION_FILES.1,
    workgroup_size: [16, 16, 1],
    // Two tiles of TILE_K × TILE f32.
    workgroup_bytes: 2 * (INPUT_PROJECTION_TILE_K * INPUT_PROJECTION_TILE) as u64 * F32,
    // x, w, bias, xp
    bindings: &[GEMM_UNIFORM, read(F32), read(F32), read(F32), write(F32)],
    consts: &[
        ("TILE", INPUT_PROJECTION_TILE),
        ("TILE_K", INPUT_PROJECTION_TILE_K),
        ("WG", 16),
    ],
    overrides: &[],
};

/// `XP = X·Wᵀ + b`, register-blocked with no workgroup memory, W transposed.
pub(crate) const INPUT_PROJECTION_BLOCKED: Kernel = Kernel {
    name: "input_projection_blocked",
    files: INPUT_PROJECTION_BLOCKED_FILES.0,
    source: INPUT_PROJECTION_BLOCKED_FILES.1,
    workgroup_size: [INPUT_PROJECTION_BLOCKED_WORKGROUP, 1, 1],
    workgroup_bytes: 0,
    // x, w (transposed), bias, xp
    bindings: &[GEMM_UNIFORM, read(F32), read(VEC4), read(VEC4), write(VEC4)],
    consts: &[
        ("WG", INPUT_PROJECTION_BLOCKED_WORKGROUP),
        ("ROWS", INPUT_PROJECTION_BLOCKED_ROWS),
        ("COLUMNS", INPUT_PROJECTION_BLOCKED_COLUMNS),
    ],
    overrides: &[],
};

/// The overrides of the step kernels that carry the configuration's gate options, in the order
/// [`gate_option_constants`] gives them.
pub(crate) const GATE_OPTION_OVERRIDES: [&str; 23] = [
    "ACT_F0",
    "ALPHA_F0",
    "BETA_F0",
    "ACT_G0",
    "ALPHA_G0",
    "BETA_G0",
    "ACT_H0",
    "ALPHA_H0",
    "BETA_H0",
    "ACT_F1",
    "ALPHA_F1",
    "BETA_F1",
    "ACT_G1",
    "ALPHA_G1",
    "BETA_G1",
    "ACT_H1",
    "ALPHA_H1",
    "BETA_H1",
    "SAME_ACTIVATIONS",
    "CLIP",
    "INPUT_FORGET",
    "PEEPHOLES",
    "PROJECTED",
];

/// The gate options and the variant's block sizes and schedule.
const STEP_OVERRIDES: [&str; 26] = {
    let mut all = [""; 26];
    let mut i = 0;
    while i < GATE_OPTION_OVERRIDES.len() {
        all[i] = GATE_OPTION_OVERRIDES[i];
        i += 1;
    }
    all[23] = "BATCH_BLOCK";
    all[24] = "UNITS";
    all[25] = "WAVEFRONT";
    all
};

/// xp, r, seq_lens, state, y: the bindings every step kernel shares.
const STEP_BINDINGS: &[BindingKind] = &[
    STEP_UNIFORM,
    read(VEC4),
    read(VEC4),
    read(4),
    write(F32),
    write(F32),
];

/// One recurrent timestep with the cell update.
pub(crate) const STEP: Kernel = Kernel {
    name: "step",
    files: STEP_FILES.0,
    source: STEP_FILES.1,
    workgroup_size: [STEP_WORKGROUP, 1, 1],
    workgroup_bytes: 0,
    bindings: STEP_BINDINGS,
    consts: &[("WG", STEP_WORKGROUP)],
    overrides: &STEP_OVERRIDES,
};

/// Partial sums of one split-K workgroup: SPLIT rows of UNIT_BLOCK vec4s.
const SPLITK_WORKGROUP_BYTES: u64 = (STEP_SPLITK_SPLIT * STEP_SPLITK_UNITS) as u64 * VEC4;
const SPLITK_CONSTS: &[(&str, u32)] = &[("SPLIT", STEP_SPLITK_SPLIT), ("UNIT_BLOCK", STEP_SPLITK_UNITS)];

/// One recurrent timestep, split over k across a workgroup (small batches).
pub(crate) const STEP_SPLITK: Kernel = Kernel {
    name: "step_splitk",
    files: STEP_SPLITK_FILES.0,
    source: STEP_SPLITK_FILES.1,
    workgroup_size: [STEP_SPLITK_SPLIT, 1, 1],
    workgroup_bytes: SPLITK_WORKGROUP_BYTES,
    bindings: STEP_BINDINGS,
    consts: SPLITK_CONSTS,
    overrides: &GATE_OPTION_OVERRIDES,
};

/// The split-K step with subgroup reductions (devices with `Features::SUBGROUP`).
pub(crate) const STEP_SPLITK_SUBGROUP: Kernel = Kernel {
    name: "step_splitk_subgroup",
    files: STEP_SPLITK_SUBGROUP_FILES.0,
    source: STEP_SPLITK_SUBGROUP_FILES.1,
    workgroup_size: [STEP_SPLITK_SPLIT, 1, 1],
    workgroup_bytes: SPLITK_WORKGROUP_BYTES,
    bindings: STEP_BINDINGS,
    consts: SPLITK_CONSTS,
    overrides: &GATE_OPTION_OVERRIDES,
};

/// Invocations of a sequence-kernel workgroup.
pub(crate) const STEP_SEQUENCE_WORKGROUP: u32 = 128;
/// Largest P the sequence kernel stages in workgroup memory.
pub(crate) const STEP_SEQUENCE_MAX_P: u32 = 2048;
/// Units (one per invocation) and largest P of the register-resident sequence kernel.
pub(crate) const STEP_SEQUENCE_RESIDENT: u32 = 128;

/// Every step of a layer in one dispatch, a workgroup per batch element and direction.
pub(crate) const STEP_SEQUENCE: Kernel = Kernel {
    name: "step_sequence",
    files: STEP_SEQUENCE_FILES.0,
    source: STEP_SEQUENCE_FILES.1,
    workgroup_size: [STEP_SEQUENCE_WORKGROUP, 1, 1],
    workgroup_bytes: STEP_SEQUENCE_MAX_P as u64 * F32,
    bindings: STEP_BINDINGS,
    consts: &[
        ("SEQ_WG", STEP_SEQUENCE_WORKGROUP),
        ("SEQ_MAX_P", STEP_SEQUENCE_MAX_P),
    ],
    overrides: &GATE_OPTION_OVERRIDES,
};

/// The gate options and P, which the register-resident sequence kernel unrolls to.
const SEQUENCE_RESIDENT_OVERRIDES: [&str; 24] = {
    let mut all = [""; 24];
    let mut i = 0;
    while i < GATE_OPTION_OVERRIDES.len() {
        all[i] = GATE_OPTION_OVERRIDES[i];
        i += 1;
    }
    all[23] = "SEQ_P";
    all
};

/// The sequence kernel with each invocation's column of R in registers.
pub(crate) const STEP_SEQUENCE_RESIDENT_KERNEL: Kernel = Kernel {
    name: "step_sequence_resident",
    files: STEP_SEQUENCE_RESIDENT_FILES.0,
    source: STEP_SEQUENCE_RESIDENT_FILES.1,
    workgroup_size: [STEP_SEQUENCE_RESIDENT, 1, 1],
    workgroup_bytes: STEP_SEQUENCE_RESIDENT as u64 * F32,
    bindings: STEP_BINDINGS,
    consts: &[("SEQ_RES", STEP_SEQUENCE_RESIDENT)],
    overrides: &SEQUENCE_RESIDENT_OVERRIDES,
};

/// The register-resident sequence kernel with h broadcast within subgroups (devices with
/// `Features::SUBGROUP` and subgroups of at least [`SEQUENCE_SUBGROUP`] invocations).
pub(crate) const STEP_SEQUENCE_RESIDENT_SUBGROUP: Kernel = Kernel {
    name: "step_sequence_resident_subgroup",
    files: STEP_SEQUENCE_RESIDENT_SUBGROUP_FILES.0,
    source: STEP_SEQUENCE_RESIDENT_SUBGROUP_FILES.1,
    workgroup_size: [STEP_SEQUENCE_RESIDENT, 1, 1],
    workgroup_bytes: 0,
    bindings: STEP_BINDINGS,
    consts: &[("SEQ_RES", STEP_SEQUENCE_RESIDENT)],
    overrides: &SEQUENCE_RESIDENT_OVERRIDES,
};

/// The values of h one subgroup broadcast block holds: the subgroup kernels need subgroups at
/// least this large.
pub(crate) const SEQUENCE_SUBGROUP: u32 = 8;

/// `h = W_hr·m` for one timestep (PyTorch `proj_size`).
pub(crate) const OUTPUT_PROJECTION: Kernel = Kernel {
    name: "output_projection",
    files: OUTPUT_PROJECTION_FILES.0,
    source: OUTPUT_PROJECTION_FILES.1,
    workgroup_size: [STEP_WORKGROUP, 1, 1],
    workgroup_bytes: 0,
    // w_hr (transposed), seq_lens, state, y
    bindings: &[STEP_UNIFORM, read(F32), read(4), write(F32), write(F32)],
    consts: &[("WG", STEP_WORKGROUP)],
    overrides: &[],
};

/// Every kernel.
pub(crate) const ALL: &[&Kernel] = &[
    &INPUT_PROJECTION,
    &INPUT_PROJECTION_BLOCKED,
    &STEP,
    &STEP_SPLITK,
    &STEP_SPLITK_SUBGROUP,
    &STEP_SEQUENCE,
    &STEP_SEQUENCE_RESIDENT_KERNEL,
    &STEP_SEQUENCE_RESIDENT_SUBGROUP,
    &OUTPUT_PROJECTION,
];

/// A kernel as a plan dispatches it: which WGSL kernel, specialised how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelRef {
    Gemm(GemmVariant),
    /// A step variant under a schedule (split-K runs only layer by layer).
    Step(StepVariant, Schedule),
    OutputProjection,
}

impl KernelRef {
    /// The WGSL kernel for a device whose subgroups have at least `subgroup_min` invocations
    /// (`None` without subgroups): the split-K step reduces with subgroup operations, and the
    /// register-resident sequence kernel broadcasts h within subgroups of 8 or more.
    pub fn kernel(self, subgroup_min: Option<u32>) -> &'static Kernel {
        match self {
            KernelRef::Gemm(GemmVariant::Tiled) => &INPUT_PROJECTION,
            KernelRef::Gemm(GemmVariant::RegisterBlocked) => &INPUT_PROJECTION_BLOCKED,
            KernelRef::Step(StepVariant::SplitK, _) if subgroup_min.is_some() => &STEP_SPLITK_SUBGROUP,
            KernelRef::Step(StepVariant::SplitK, _) => &STEP_SPLITK,
            KernelRef::Step(StepVariant::Sequence, _) => &STEP_SEQUENCE,
            KernelRef::Step(StepVariant::SequenceResident, _)
                if subgroup_min.is_some_and(|m| m >= SEQUENCE_SUBGROUP) =>
            {
                &STEP_SEQUENCE_RESIDENT_SUBGROUP
            }
            KernelRef::Step(StepVariant::SequenceResident, _) => &STEP_SEQUENCE_RESIDENT_KERNEL,
            KernelRef::Step(..) => &STEP,
            KernelRef::OutputProjection => &OUTPUT_PROJECTION,
        }
    }

    /// Whether the kernel takes the configuration's gate options ([`gate_option_constants`]).
    pub fn takes_gate_options(self) -> bool {
        matches!(self, KernelRef::Step(..))
    }

    /// The overrides that select the variant (`p`: the model's P, for kernels unrolled to it).
    pub fn variant_constants(self, p: usize) -> Vec<(&'static str, f64)> {
        match self {
            KernelRef::Step(StepVariant::SequenceResident, _) => vec![("SEQ_P", p as f64)],
            KernelRef::Step(step, schedule) if step.runs_in_a_wavefront() => vec![
                ("BATCH_BLOCK", step.batch_block() as f64),
                ("UNITS", step.units() as f64),
                ("WAVEFRONT", f64::from(u8::from(schedule == Schedule::Wavefront))),
            ],
            _ => Vec::new(),
        }
    }
}

/// The step kernels' gate-option overrides for a configuration, named as in
/// [`GATE_OPTION_OVERRIDES`]: the activations of each direction with alpha and beta, clip,
/// input_forget, peepholes and projection.
pub(crate) fn gate_option_constants(config: &LstmConfig) -> Vec<(&'static str, f64)> {
    let per_direction = [
        config.activations_of(0),
        config.activations_of(config.num_directions() - 1),
    ];
    let flag = |b: bool| f64::from(u8::from(b));
    let values = per_direction
        .iter()
        .flat_map(|acts| {
            acts.iter()
                .flat_map(|a| [a.kind.id() as f64, a.alpha as f64, a.beta as f64])
        })
        .chain([
            flag(per_direction[0] == per_direction[1]),
            config.clip.map_or(0.0, |c| c as f64),
            flag(config.input_forget),
            flag(config.peepholes),
            flag(config.proj_size.is_some()),
        ]);
    GATE_OPTION_OVERRIDES.into_iter().zip(values).collect()
}

impl Kernel {
    /// The bind-group layout entries for group 0.
    pub fn layout_entries(&self) -> Vec<wgpu::BindGroupLayoutEntry> {
        self.bindings
            .iter()
            .enumerate()
            .map(|(i, kind)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match *kind {
                    BindingKind::Uniform { size, dynamic } => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: dynamic,
                        min_binding_size: NonZeroU64::new(size),
                    },
                    BindingKind::Storage { read_only, element } => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only },
                        has_dynamic_offset: false,
                        min_binding_size: NonZeroU64::new(element),
                    },
                },
                count: None,
            })
            .collect()
    }

    /// Number of storage buffers the kernel binds.
    pub fn storage_buffers(&self) -> u32 {
        self.bindings
            .iter()
            .filter(|b| matches!(b, BindingKind::Storage { .. }))
            .count() as u32
    }
}

#[cfg(test)]
#[path = "shaders_tests.rs"]
mod tests;
