//! The kernel registry, the only place WGSL files are named: each kernel's source (shared snippets
//! concatenated in front), its workgroup size, workgroup memory and bind-group layout, the WGSL
//! constants the host mirrors and the overrides it sets. Every kernel that reads weights exists
//! in each [`WeightFormat`]: its source starts with the snippet of `shaders/weights/` that
//! declares the weights (binding 2) and the function reading them. The unit tests in
//! `tests.rs` read all of this back from the WGSL through naga.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::path::Path;

use super::params::{GemmParams, PoolRowsParams, StepParams};
use super::variants::{GemmVariant, Schedule, StepVariant};
use crate::cell::Cell;
use crate::config::{LstmConfig, Precision};
use crate::error::{Error, Result};

/// How the weights are stored on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum WeightFormat {
    F32,
    /// f16, two to a u32, read with `unpack2x16float` (adapters without shader-f16).
    F16,
    /// f16 read natively (`Features::SHADER_F16`).
    F16Native,
    /// int8, four to a u32, with their scales in the same buffer (`backend/gpu/int8.rs`).
    Int8,
}

impl WeightFormat {
    /// The format of `precision` on a device with or without shader-f16.
    pub fn of(precision: Precision, shader_f16: bool) -> Self {
        match (precision, shader_f16) {
            (Precision::F32, _) => WeightFormat::F32,
            (Precision::F16, false) => WeightFormat::F16,
            (Precision::F16, true) => WeightFormat::F16Native,
            (Precision::Int8, _) => WeightFormat::Int8,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Bytes of one weight (int8's scales aside).
    pub fn weight_bytes(self) -> u64 {
        match self {
            WeightFormat::F32 => 4,
            WeightFormat::F16 | WeightFormat::F16Native => 2,
            WeightFormat::Int8 => 1,
        }
    }

    /// The precision this format stores.
    pub fn precision(self) -> Precision {
        match self {
            WeightFormat::F32 => Precision::F32,
            WeightFormat::F16 | WeightFormat::F16Native => Precision::F16,
            WeightFormat::Int8 => Precision::Int8,
        }
    }

    /// Bytes of the array element a kernel reads weights through: four weights, or one (which
    /// packed f16 reads as a u32 of two, int8 as a u32 of four).
    fn element(self, vec4: bool) -> u64 {
        match (self, vec4) {
            (WeightFormat::Int8, _) => 4,
            (WeightFormat::F32, true) => 16,
            (WeightFormat::F32, false) => 4,
            (_, true) => 8,
            (WeightFormat::F16, false) => 4,
            (WeightFormat::F16Native, false) => 2,
        }
    }
}

/// How one binding of a kernel is used; the host builds its bind-group layout from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BindingKind {
    /// A uniform block of `size` bytes, bound with a dynamic offset when `dynamic`.
    Uniform { size: u64, dynamic: bool },
    /// A storage array of elements of `element` bytes.
    Storage { read_only: bool, element: u64 },
    /// The weights (read-only storage), read four at a time or one at a time; the element size
    /// follows the kernel's [`WeightFormat`].
    Weights { vec4: bool },
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
    /// How it reads weights.
    pub format: WeightFormat,
    /// `@workgroup_size`.
    pub workgroup_size: [u32; 3],
    /// Bytes of `var<workgroup>` memory, at the largest values of its overrides.
    pub workgroup_bytes: u64,
    /// Bindings 0.. of group 0.
    pub bindings: &'static [BindingKind],
    /// WGSL `const`s whose values the host relies on, with those values.
    pub consts: &'static [(&'static str, u32)],
    /// The pipeline-overridable constants the host sets.
    pub overrides: &'static [&'static str],
}

pub(crate) const ENTRY_POINT: &str = "main";

/// A kernel in the four weight formats: `$files` after the weights snippet `$access` ("vec4"
/// or "scalar") of each format.
macro_rules! kernel {
    (
        $(#[$doc:meta])*
        $name:ident = $label:literal, $access:literal, [$($file:literal),+],
        workgroup_size: $size:expr,
        workgroup_bytes: $bytes:expr,
        bindings: $bindings:expr,
        consts: $consts:expr,
        overrides: $overrides:expr $(,)?
    ) => {
        $(#[$doc])*
        pub(crate) const $name: [Kernel; 4] =
            kernel!(@set $label, $access, [$($file),+], $size, $bytes, $bindings, $consts, $overrides);
    };
    (@set $label:expr, $access:literal, [$($file:literal),+], $size:expr, $bytes:expr, $bindings:expr,
     $consts:expr, $overrides:expr) => {
        [
            kernel!(@one concat!($label), WeightFormat::F32, concat!("weights/", $access, "_f32.wgsl"),
                [$($file),+], $size, $bytes, $bindings, $consts, $overrides),
            kernel!(@one concat!($label, "_f16"), WeightFormat::F16, concat!("weights/", $access, "_f16.wgsl"),
                [$($file),+], $size, $bytes, $bindings, $consts, $overrides),
            kernel!(@one concat!($label, "_f16_native"), WeightFormat::F16Native,
                concat!("weights/", $access, "_f16_native.wgsl"),
                [$($file),+], $size, $bytes, $bindings, $consts, $overrides),
            kernel!(@one concat!($label, "_int8"), WeightFormat::Int8, concat!("weights/", $access, "_int8.wgsl"),
                [$($file),+], $size, $bytes, $bindings, $consts, $overrides),
        ]
    };
    (@one $name:expr, $format:expr, $weights:expr, [$($file:literal),+], $size:expr, $bytes:expr,
     $bindings:expr, $consts:expr, $overrides:expr) => {
        kernel!(@files $name, $format, [$weights, $($file),+], $size, $bytes, $bindings, $consts, $overrides)
    };
    (@files $name:expr, $format:expr, [$($file:expr),+], $size:expr, $bytes:expr,
     $bindings:expr, $consts:expr, $overrides:expr) => {
        Kernel {
            name: $name,
            files: &[$($file),+],
            source: concat!(
                $(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file)), "\n"),+
            ),
            format: $format,
            workgroup_size: $size,
            workgroup_bytes: $bytes,
            bindings: $bindings,
            consts: $consts,
            overrides: $overrides,
        }
    };
}

const F32: u64 = 4;
const VEC4: u64 = 16;

/// Invocations along each side of a tiled projection workgroup.
const INPUT_PROJECTION_WG: u32 = 16;
/// The largest register block side of the tiled projection (tiles of up to 128).
const INPUT_PROJECTION_MAX_BLOCK: u32 = 8;
/// Rows of XP one register-blocked projection invocation computes.
pub(crate) const INPUT_PROJECTION_BLOCKED_ROWS: u32 = 16;
/// vec4 columns of XP one register-blocked projection invocation computes.
pub(crate) const INPUT_PROJECTION_BLOCKED_COLUMNS: u32 = 2;
/// Invocations per register-blocked projection workgroup.
pub(crate) const INPUT_PROJECTION_BLOCKED_WORKGROUP: u32 = 64;
/// Hidden units (or projected outputs) per step workgroup.
pub(crate) const STEP_WORKGROUP: u32 = 64;
/// Invocations of a split-K workgroup, and the most batch elements one holds.
const STEP_SPLITK_WORKGROUP: u32 = 128;
const STEP_SPLITK_MAX_BATCH: u32 = 4;
/// Invocations of a tiled-step workgroup, its k slice, and its largest tile.
const STEP_TILED_WORKGROUP: u32 = 256;
const STEP_TILED_K: u32 = 16;
const STEP_TILED_MAX_UNITS: u32 = 16;
const STEP_TILED_MAX_BATCH: u32 = 64;
const STEP_TILED_MAX_PER: u32 = 4;
/// Invocations of a sequence-kernel workgroup.
pub(crate) const STEP_SEQUENCE_WORKGROUP: u32 = 128;
/// Largest P the sequence kernel stages in workgroup memory.
pub(crate) const STEP_SEQUENCE_MAX_P: u32 = 2048;
/// The sizes of the register-resident sequence kernel, smallest first: invocations and units
/// per invocation; their product is the largest H and P of the size.
pub(crate) const STEP_SEQUENCE_RESIDENT_SIZES: [(u32, u32); 3] = [(128, 1), (256, 1), (256, 2)];
/// The values of h one subgroup broadcast block holds: the subgroup kernel needs subgroups at
/// least this large.
pub(crate) const SEQUENCE_SUBGROUP: u32 = 8;

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

/// The overrides of the step kernels that carry the configuration's gate options, in the order
/// [`gate_option_constants`] gives them.
pub(crate) const GATE_OPTION_OVERRIDES: [&str; 24] = [
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
    "RESET_BEFORE_PRODUCT",
];

/// The gate options followed by a kernel's own overrides (`M` = 24 + `N`).
const fn with_gate_options<const N: usize, const M: usize>(own: [&'static str; N]) -> [&'static str; M] {
    assert!(M == GATE_OPTION_OVERRIDES.len() + N);
    let mut all = [""; M];
    let mut i = 0;
    while i < M {
        all[i] = if i < GATE_OPTION_OVERRIDES.len() {
            GATE_OPTION_OVERRIDES[i]
        } else {
            own[i - GATE_OPTION_OVERRIDES.len()]
        };
        i += 1;
    }
    all
}

const STEP_OVERRIDES: [&str; 27] = with_gate_options(["BATCH_BLOCK", "UNITS", "WAVEFRONT"]);
const SPLITK_OVERRIDES: [&str; 26] = with_gate_options(["SPLIT_UNITS", "SPLIT_BATCH"]);
const TILED_OVERRIDES: [&str; 26] = with_gate_options(["TILE_UNITS", "TILE_BATCH"]);
const SEQUENCE_RESIDENT_OVERRIDES: [&str; 25] = with_gate_options(["SEQ_P"]);

/// xp, weights (R), seq_lens, state, y: the bindings every step kernel shares.
const STEP_BINDINGS: &[BindingKind] = &[
    STEP_UNIFORM,
    read(VEC4),
    BindingKind::Weights { vec4: true },
    read(4),
    write(F32),
    write(F32),
];

kernel! {
    /// `XP = X·Wᵀ + b` for all timesteps of a layer, tiled through workgroup memory; tile sizes
    /// are overrides (`GemmVariant::Tiled`).
    INPUT_PROJECTION = "input_projection", "scalar", ["shared/params.wgsl", "input_projection.wgsl"],
    workgroup_size: [INPUT_PROJECTION_WG, INPUT_PROJECTION_WG, 1],
    // Two padded tiles of the largest shapes: 128×64×16 floats (128 + 1 and 64 + 1 per k).
    workgroup_bytes: 16 * (129 + 65) * F32,
    // x, weights (W), bias, xp
    bindings: &[GEMM_UNIFORM, read(F32), BindingKind::Weights { vec4: false }, read(F32), write(F32)],
    consts: &[("WG", INPUT_PROJECTION_WG), ("MAX_BLOCK", INPUT_PROJECTION_MAX_BLOCK)],
    overrides: &["TILE_M", "TILE_N", "TILE_K"],
}

kernel! {
    /// `XP = X·Wᵀ + b`, register-blocked with no workgroup memory, W transposed.
    INPUT_PROJECTION_BLOCKED = "input_projection_blocked", "vec4",
        ["shared/params.wgsl", "input_projection_blocked.wgsl"],
    workgroup_size: [INPUT_PROJECTION_BLOCKED_WORKGROUP, 1, 1],
    workgroup_bytes: 0,
    // x, weights (W transposed), bias, xp
    bindings: &[GEMM_UNIFORM, read(F32), BindingKind::Weights { vec4: true }, read(VEC4), write(VEC4)],
    consts: &[
        ("WG", INPUT_PROJECTION_BLOCKED_WORKGROUP),
        ("ROWS", INPUT_PROJECTION_BLOCKED_ROWS),
        ("COLUMNS", INPUT_PROJECTION_BLOCKED_COLUMNS),
    ],
    overrides: &[],
}

mod cells;
pub(crate) use cells::*;

kernel! {
    /// `h = W_hr·m` for one timestep (PyTorch `proj_size`).
    OUTPUT_PROJECTION = "output_projection", "scalar", ["shared/params.wgsl", "output_projection.wgsl"],
    workgroup_size: [STEP_WORKGROUP, 1, 1],
    workgroup_bytes: 0,
    // seq_lens, weights (W_hr transposed), state, y
    bindings: &[STEP_UNIFORM, read(4), BindingKind::Weights { vec4: false }, write(F32), write(F32)],
    consts: &[("WG", STEP_WORKGROUP)],
    overrides: &[],
}

/// Invocations of a pool-rows workgroup.
pub(crate) const POOL_ROWS_WORKGROUP: u32 = 256;

/// A stream pool's rows moved between the pool's state and the forward's working state through
/// an index buffer (f32 states; no weights).
pub(crate) const POOL_ROWS: Kernel = kernel!(@files "pool_rows", WeightFormat::F32,
    ["shared/params.wgsl", "pool_rows.wgsl"],
    [POOL_ROWS_WORKGROUP, 1, 1], 0,
    // params (one block per move, at a dynamic offset), slots, the pool's rows, the working state
    &[
        BindingKind::Uniform { size: std::mem::size_of::<PoolRowsParams>() as u64, dynamic: true },
        read(4),
        write(F32),
        write(F32),
    ],
    &[("WG", POOL_ROWS_WORKGROUP)], &[]);

/// Every kernel in every weight format: the GEMMs, each cell's step kernels, the projection.
pub(crate) fn all_sets() -> impl Iterator<Item = &'static [Kernel; 4]> {
    [&INPUT_PROJECTION, &INPUT_PROJECTION_BLOCKED]
        .into_iter()
        .chain(Cell::ALL.into_iter().flat_map(|c| CellKernels::of(c).all()))
        .chain([&OUTPUT_PROJECTION])
}

mod generated;
mod training;
pub(crate) use training::*;

/// Every inference kernel, formats flattened, and the pool's row mover.
pub(crate) fn inference() -> impl Iterator<Item = &'static Kernel> {
    all_sets().flatten().chain([&POOL_ROWS])
}

/// Every kernel of the registry: inference in every weight format, then training.
#[cfg(test)]
pub(crate) fn all() -> impl Iterator<Item = &'static Kernel> {
    inference().chain(TRAINING)
}

/// A development override: read the kernels' WGSL files from this directory (laid out as
/// `shaders/`) when pipelines are compiled, instead of the sources built into the library, so a
/// changed shader (a mutant of `tests/mutants/`, say) runs without a rebuild.
pub(crate) const SHADER_DIR_VARIABLE: &str = "WGPU_LSTM_SHADER_DIR";

/// The kernel's source: built in, or its files read from `dir` (laid out as `shaders/`) and
/// concatenated in the same order; then its generated lines written ([`generated::expand`]).
pub(crate) fn source(kernel: &Kernel, dir: Option<&Path>) -> Result<Cow<'static, str>> {
    let Some(dir) = dir else {
        return Ok(generated::expand(kernel.source.into(), kernel.consts));
    };
    let mut source = String::new();
    for file in kernel.files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        source.push_str(&text);
        source.push('\n');
    }
    Ok(generated::expand(source.into(), kernel.consts))
}

/// A kernel as a plan dispatches it: which WGSL kernel, specialised how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelRef {
    Gemm(GemmVariant),
    /// A step variant under a schedule (only `step.wgsl`'s variants run as a wavefront).
    Step(StepVariant, Schedule),
    OutputProjection,
    /// A stream pool's rows moved by an index buffer.
    PoolRows,
}

impl KernelRef {
    /// The WGSL kernel of `cell` reading weights in `format`, on a device whose subgroups have
    /// at least `subgroup_min` invocations (`None` without subgroups), for a layer `width` wide
    /// (the larger of H and P): the register-resident sequence kernel broadcasts h within
    /// subgroups of [`SEQUENCE_SUBGROUP`] or more, and comes in the smallest of its sizes that
    /// holds the width. The step kernels of a cell are the shared step bodies with its cell body
    /// (`cells/<cell>.wgsl`) composed in; the GEMMs do not depend on the cell.
    pub fn kernel(
        self,
        cell: Cell,
        format: WeightFormat,
        subgroup_min: Option<u32>,
        width: usize,
    ) -> &'static Kernel {
        match self.set(CellKernels::of(cell), subgroup_min, width) {
            Some(set) => &set[format.index()],
            None => &POOL_ROWS,
        }
    }

    /// The kernel in the four weight formats, the step kernels from `cell`'s; `None` for the
    /// pool's row mover, which reads no weights.
    fn set(
        self,
        cell: &'static CellKernels,
        subgroup_min: Option<u32>,
        width: usize,
    ) -> Option<&'static [Kernel; 4]> {
        let size = STEP_SEQUENCE_RESIDENT_SIZES
            .iter()
            .position(|&(wg, units)| width <= (wg * units) as usize)
            .unwrap_or(STEP_SEQUENCE_RESIDENT_SIZES.len() - 1);
        Some(match self {
            KernelRef::Gemm(GemmVariant::Tiled { .. }) => &INPUT_PROJECTION,
            KernelRef::Gemm(GemmVariant::RegisterBlocked) => &INPUT_PROJECTION_BLOCKED,
            KernelRef::Step(StepVariant::SplitK { .. }, _) => &cell.splitk,
            KernelRef::Step(StepVariant::Tiled { .. }, _) => &cell.tiled,
            KernelRef::Step(StepVariant::Sequence, _) => &cell.sequence,
            KernelRef::Step(StepVariant::SequenceResident, _)
                if subgroup_min.is_some_and(|m| m >= SEQUENCE_SUBGROUP) =>
            {
                &cell.resident_subgroup[size]
            }
            KernelRef::Step(StepVariant::SequenceResident, _) => &cell.resident[size],
            KernelRef::Step(..) => &cell.step,
            KernelRef::OutputProjection => &OUTPUT_PROJECTION,
            KernelRef::PoolRows => return None,
        })
    }

    /// Whether the kernel takes the configuration's gate options ([`gate_option_constants`]).
    pub fn takes_gate_options(self) -> bool {
        matches!(self, KernelRef::Step(..))
    }

    /// The overrides that select the variant (`p`: the model's P, for kernels unrolled to it).
    pub fn variant_constants(self, p: usize) -> Vec<(&'static str, f64)> {
        match self {
            KernelRef::Gemm(GemmVariant::Tiled { m, n, k }) => {
                vec![("TILE_M", m as f64), ("TILE_N", n as f64), ("TILE_K", k as f64)]
            }
            KernelRef::Step(StepVariant::SplitK { units, batch }, _) => {
                vec![("SPLIT_UNITS", units as f64), ("SPLIT_BATCH", batch as f64)]
            }
            KernelRef::Step(StepVariant::Tiled { units, batch }, _) => {
                vec![("TILE_UNITS", units as f64), ("TILE_BATCH", batch as f64)]
            }
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
/// input_forget, peepholes, projection and a GRU's reset before its candidate's product.
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
            flag(config.resets_before_product()),
        ]);
    GATE_OPTION_OVERRIDES.into_iter().zip(values).collect()
}

impl Kernel {
    /// Bytes of one element of binding `kind`.
    pub fn element_bytes(&self, kind: BindingKind) -> u64 {
        match kind {
            BindingKind::Uniform { size, .. } => size,
            BindingKind::Storage { element, .. } => element,
            BindingKind::Weights { vec4 } => self.format.element(vec4),
        }
    }

    /// The bind-group layout entries for group 0.
    pub fn layout_entries(&self) -> Vec<wgpu::BindGroupLayoutEntry> {
        self.bindings
            .iter()
            .enumerate()
            .map(|(i, &kind)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match kind {
                    BindingKind::Uniform { size, dynamic } => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: dynamic,
                        min_binding_size: NonZeroU64::new(size),
                    },
                    BindingKind::Storage { .. } | BindingKind::Weights { .. } => wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: !matches!(kind, BindingKind::Storage { read_only: false, .. }),
                        },
                        has_dynamic_offset: false,
                        min_binding_size: NonZeroU64::new(self.element_bytes(kind)),
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
            .filter(|b| !matches!(b, BindingKind::Uniform { .. }))
            .count() as u32
    }
}

#[cfg(test)]
mod tests;
