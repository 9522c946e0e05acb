//! The only place WGSL files are named: each kernel's source (shared snippets concatenated in
//! front), its workgroup size and its bind-group layout, which host and tests both read.

use std::num::NonZeroU64;

/// How one binding of a kernel is used; the host builds its bind-group layout from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    /// A uniform block of `size` bytes, bound with a dynamic offset when `dynamic`.
    Uniform { size: u64, dynamic: bool },
    /// A storage array of elements of `element` bytes.
    Storage { read_only: bool, element: u64 },
}

/// A compute kernel: entry point `main` in a WGSL source.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    pub name: &'static str,
    /// The WGSL files it is made of, relative to `shaders/`, in order.
    pub files: &'static [&'static str],
    /// The concatenated source.
    pub source: &'static str,
    /// `@workgroup_size`, mirrored from the WGSL consts.
    pub workgroup_size: [u32; 3],
    /// Bindings 0.. of group 0.
    pub bindings: &'static [BindingKind],
}

pub const ENTRY_POINT: &str = "main";

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
const STEP_SPLITK_SUBGROUP_FILES: (&[&str], &str) = wgsl!(
    "shared/params.wgsl",
    "shared/activations.wgsl",
    "shared/cell.wgsl",
    "shared/splitk.wgsl",
    "step_splitk_subgroup.wgsl"
);

/// Side of the output tile one projection workgroup computes (64×64).
pub const INPUT_PROJECTION_TILE: u32 = 64;
/// Hidden units per step workgroup.
pub const STEP_WORKGROUP: u32 = 64;

const F32: u64 = 4;

/// `XP = X·Wᵀ + b` for all timesteps of a layer.
pub const INPUT_PROJECTION: Kernel = Kernel {
    name: "input_projection",
    files: INPUT_PROJECTION_FILES.0,
    source: INPUT_PROJECTION_FILES.1,
    workgroup_size: [16, 16, 1],
    bindings: &[
        BindingKind::Uniform {
            size: std::mem::size_of::<super::params::GemmParams>() as u64,
            dynamic: false,
        },
        BindingKind::Storage {
            read_only: true,
            element: F32,
        }, // x
        BindingKind::Storage {
            read_only: true,
            element: F32,
        }, // w
        BindingKind::Storage {
            read_only: true,
            element: F32,
        }, // bias
        BindingKind::Storage {
            read_only: false,
            element: F32,
        }, // xp
    ],
};

/// Rows of XP one register-blocked projection invocation computes.
pub const INPUT_PROJECTION_BLOCKED_ROWS: u32 = 16;

/// `XP = X·Wᵀ + b`, register-blocked with no workgroup memory, W transposed.
pub const INPUT_PROJECTION_BLOCKED: Kernel = Kernel {
    name: "input_projection_blocked",
    files: INPUT_PROJECTION_BLOCKED_FILES.0,
    source: INPUT_PROJECTION_BLOCKED_FILES.1,
    workgroup_size: [64, 1, 1],
    bindings: &[
        BindingKind::Uniform {
            size: std::mem::size_of::<super::params::GemmParams>() as u64,
            dynamic: false,
        },
        BindingKind::Storage {
            read_only: true,
            element: F32,
        }, // x
        BindingKind::Storage {
            read_only: true,
            element: 4 * F32,
        }, // w, transposed
        BindingKind::Storage {
            read_only: true,
            element: 4 * F32,
        }, // bias
        BindingKind::Storage {
            read_only: false,
            element: 4 * F32,
        }, // xp
    ],
};

/// One recurrent timestep with the cell update.
pub const STEP: Kernel = Kernel {
    name: "step",
    files: STEP_FILES.0,
    source: STEP_FILES.1,
    workgroup_size: [STEP_WORKGROUP, 1, 1],
    bindings: &[
        BindingKind::Uniform {
            size: std::mem::size_of::<super::params::StepParams>() as u64,
            dynamic: true,
        },
        BindingKind::Storage {
            read_only: true,
            element: 4 * F32,
        }, // xp
        BindingKind::Storage {
            read_only: true,
            element: 4 * F32,
        }, // r
        BindingKind::Storage {
            read_only: true,
            element: 4,
        }, // seq_lens
        BindingKind::Storage {
            read_only: false,
            element: F32,
        }, // state
        BindingKind::Storage {
            read_only: false,
            element: F32,
        }, // y
    ],
};

/// Hidden units one split-K step workgroup owns.
pub const STEP_SPLITK_UNITS: u32 = 8;

/// One recurrent timestep, split over k across a workgroup (small batches).
pub const STEP_SPLITK: Kernel = Kernel {
    name: "step_splitk",
    files: STEP_SPLITK_FILES.0,
    source: STEP_SPLITK_FILES.1,
    workgroup_size: [64, 1, 1],
    bindings: STEP.bindings,
};

/// The split-K step with subgroup reductions (devices with `Features::SUBGROUP`).
pub const STEP_SPLITK_SUBGROUP: Kernel = Kernel {
    name: "step_splitk_subgroup",
    files: STEP_SPLITK_SUBGROUP_FILES.0,
    source: STEP_SPLITK_SUBGROUP_FILES.1,
    workgroup_size: [64, 1, 1],
    bindings: STEP.bindings,
};

/// `h = W_hr·m` for one timestep (PyTorch `proj_size`).
pub const OUTPUT_PROJECTION: Kernel = Kernel {
    name: "output_projection",
    files: OUTPUT_PROJECTION_FILES.0,
    source: OUTPUT_PROJECTION_FILES.1,
    workgroup_size: [STEP_WORKGROUP, 1, 1],
    bindings: &[
        BindingKind::Uniform {
            size: std::mem::size_of::<super::params::StepParams>() as u64,
            dynamic: true,
        },
        BindingKind::Storage {
            read_only: true,
            element: F32,
        }, // w_hr, transposed
        BindingKind::Storage {
            read_only: true,
            element: 4,
        }, // seq_lens
        BindingKind::Storage {
            read_only: false,
            element: F32,
        }, // state
        BindingKind::Storage {
            read_only: false,
            element: F32,
        }, // y
    ],
};

/// Every kernel.
pub const ALL: &[Kernel] = &[
    INPUT_PROJECTION,
    INPUT_PROJECTION_BLOCKED,
    STEP,
    STEP_SPLITK,
    STEP_SPLITK_SUBGROUP,
    OUTPUT_PROJECTION,
];

/// The step kernel's pipeline-overridable constants for a configuration: the activations of
/// each direction, clip, input_forget, peepholes and projection.
pub fn step_constants(config: &crate::LstmConfig) -> Vec<(&'static str, f64)> {
    const NAMES: [[(&str, &str, &str); 3]; 2] = [
        [
            ("ACT_F0", "ALPHA_F0", "BETA_F0"),
            ("ACT_G0", "ALPHA_G0", "BETA_G0"),
            ("ACT_H0", "ALPHA_H0", "BETA_H0"),
        ],
        [
            ("ACT_F1", "ALPHA_F1", "BETA_F1"),
            ("ACT_G1", "ALPHA_G1", "BETA_G1"),
            ("ACT_H1", "ALPHA_H1", "BETA_H1"),
        ],
    ];
    let per_direction = [
        config.activations_of(0),
        config.activations_of(config.num_directions() - 1),
    ];
    let mut constants = Vec::new();
    for (names, acts) in NAMES.iter().zip(&per_direction) {
        for ((kind, alpha, beta), act) in names.iter().zip(acts) {
            constants.push((*kind, act.kind.id() as f64));
            constants.push((*alpha, act.alpha as f64));
            constants.push((*beta, act.beta as f64));
        }
    }
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    constants.push(("SAME_ACTIVATIONS", flag(per_direction[0] == per_direction[1])));
    constants.push(("CLIP", config.clip.map_or(0.0, |c| c as f64)));
    constants.push(("INPUT_FORGET", flag(config.input_forget)));
    constants.push(("PEEPHOLES", flag(config.peepholes)));
    constants.push(("PROJECTED", flag(config.proj_size.is_some())));
    constants
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
