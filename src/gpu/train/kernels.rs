//! The training kernels (`shaders/train/`): their sources, the words of the uniform block each
//! reads (mirrored from `shaders/train/params.wgsl` and checked against it by the tests), and
//! their pipelines with bind-group layouts derived from the WGSL.

use crate::error::Result;
use crate::gpu::scope::capture;

macro_rules! train_source {
    ($($file:literal),+) => {
        concat!($(include_str!(concat!("../../../shaders/", $file)), "\n"),+)
    };
}

/// A training kernel: entry point `main` of its WGSL files concatenated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrainKernel {
    /// 16×16 tiles through workgroup memory.
    Gemm,
    /// One output per invocation, no workgroup memory: for GEMMs with a short side.
    GemmDirect,
    /// The sequence kernels, running groups of this many sequences per workgroup (1 or
    /// [`SEQ_GROUP`]).
    Forward(usize),
    Backward(usize),
    Norm,
    Update,
    /// Weights transposed for the forward.
    Transpose,
}

impl TrainKernel {
    pub const ALL: [TrainKernel; 9] = [
        TrainKernel::Gemm,
        TrainKernel::GemmDirect,
        TrainKernel::Forward(1),
        TrainKernel::Forward(SEQ_GROUP),
        TrainKernel::Backward(1),
        TrainKernel::Backward(SEQ_GROUP),
        TrainKernel::Norm,
        TrainKernel::Update,
        TrainKernel::Transpose,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TrainKernel::Gemm => "train_gemm",
            TrainKernel::GemmDirect => "train_gemm_direct",
            TrainKernel::Forward(1) => "train_forward_single",
            TrainKernel::Forward(_) => "train_forward",
            TrainKernel::Backward(1) => "train_backward_single",
            TrainKernel::Backward(_) => "train_backward",
            TrainKernel::Norm => "train_norm",
            TrainKernel::Update => "train_update",
            TrainKernel::Transpose => "train_transpose",
        }
    }

    /// The WGSL; the single-sequence kernels are the grouped ones with `SEQ_GROUP` set to 1.
    pub fn source(self) -> std::borrow::Cow<'static, str> {
        let grouped = self.grouped_source();
        match self {
            TrainKernel::Forward(1) | TrainKernel::Backward(1) => {
                let single = grouped.replace(SEQ_GROUP_DECLARATION, "const SEQ_GROUP: u32 = 1u;");
                debug_assert_ne!(single, grouped, "params.wgsl declares SEQ_GROUP");
                single.into()
            }
            _ => grouped.into(),
        }
    }

    fn grouped_source(self) -> &'static str {
        match self {
            TrainKernel::Gemm => train_source!("train/params.wgsl", "train/gemm.wgsl"),
            TrainKernel::GemmDirect => train_source!("train/params.wgsl", "train/gemm_direct.wgsl"),
            TrainKernel::Forward(_) => train_source!(
                "train/params.wgsl",
                "shared/activations.wgsl",
                "train/cell.wgsl",
                "train/forward.wgsl"
            ),
            TrainKernel::Backward(_) => train_source!(
                "train/params.wgsl",
                "shared/activations.wgsl",
                "train/cell.wgsl",
                "train/backward.wgsl"
            ),
            TrainKernel::Norm => train_source!("train/params.wgsl", "train/norm.wgsl"),
            TrainKernel::Update => train_source!("train/params.wgsl", "train/update.wgsl"),
            TrainKernel::Transpose => train_source!("train/params.wgsl", "train/transpose.wgsl"),
        }
    }

    /// Storage bindings after the uniform block (binding 0), and whether each is written.
    pub fn storage(self) -> &'static [bool] {
        match self {
            TrainKernel::Gemm | TrainKernel::GemmDirect => &[false, false, true],
            TrainKernel::Forward(_) => &[false, false, false, true, true, false],
            TrainKernel::Backward(_) => &[false, false, false, false, true, true],
            TrainKernel::Norm => &[false, true],
            TrainKernel::Update => &[true, false, true, false],
            TrainKernel::Transpose => &[false, true],
        }
    }

    /// Invocations per workgroup along x and y.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn workgroup(self) -> [u32; 2] {
        match self {
            TrainKernel::Gemm | TrainKernel::GemmDirect | TrainKernel::Transpose => [GEMM_TILE, GEMM_TILE],
            TrainKernel::Forward(_) | TrainKernel::Backward(_) => [SEQ_WORKGROUP, 1],
            TrainKernel::Norm | TrainKernel::Update => [OPT_WORKGROUP, 1],
        }
    }
}

/// Words in each kernel's uniform block (`array<vec4<u32>, 16>`).
pub(crate) const WORDS: usize = 64;
pub(crate) const GEMM_TILE: u32 = 16;
/// The tiled GEMM's output tile side (16 invocations × 4 outputs).
pub(crate) const GEMM_WIDE: u32 = 64;
/// A GEMM runs in tiles when each of M, N and K is at least this; otherwise direct.
pub(crate) const TILED_MIN: usize = 64;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const SEQ_WORKGROUP: u32 = 64;
/// Sequences one workgroup of a sequence kernel runs together, sharing each weight read, from
/// batches of this size up (smaller batches run one sequence per workgroup).
pub(crate) const SEQ_GROUP: usize = 8;
/// How params.wgsl declares it.
const SEQ_GROUP_DECLARATION: &str = "const SEQ_GROUP: u32 = 8u;";
pub(crate) const OPT_WORKGROUP: u32 = 256;

/// Word indices of the sequence kernels (`shaders/train/params.wgsl`).
pub(crate) mod seq {
    pub const SEQ_LEN: usize = 0;
    pub const BATCH: usize = 1;
    pub const HIDDEN: usize = 2;
    pub const OUT: usize = 3;
    pub const DIRS: usize = 4;
    pub const REVERSE_MASK: usize = 5;
    pub const STRIDE_T: usize = 6;
    pub const STRIDE_B: usize = 7;
    pub const INPUT_FORGET: usize = 8;
    pub const CLIP: usize = 9;
    pub const FLAGS: usize = 10;
    pub const STATE_SLOT: usize = 11;
    pub const H0: usize = 12;
    pub const C0: usize = 13;
    pub const HN: usize = 14;
    pub const CN: usize = 15;
    pub const T_Y: usize = 16;
    pub const T_Z: usize = 17;
    pub const T_C: usize = 18;
    pub const T_CPREV: usize = 19;
    pub const T_HPREV: usize = 20;
    pub const T_M: usize = 21;
    pub const W_DG: usize = 22;
    pub const W_DH: usize = 23;
    pub const W_DCARRY: usize = 24;
    pub const W_PEEP: usize = 25;
    pub const P_W_HH: usize = 26;
    pub const P_B_IH: usize = 28;
    pub const P_B_HH: usize = 30;
    pub const P_PEEP: usize = 32;
    pub const P_W_HR: usize = 34;
    pub const ACT: usize = 36;
    pub const FLAG_BIAS: u32 = 1;
    pub const FLAG_PEEPHOLE: u32 = 2;
    pub const FLAG_PROJECTION: u32 = 4;
}

/// Word indices of the GEMM (`shaders/train/gemm.wgsl`).
pub(crate) mod gemm {
    pub const M: usize = 0;
    pub const N: usize = 1;
    pub const K: usize = 2;
    pub const A_OFF: usize = 3;
    pub const A_RS: usize = 4;
    pub const A_CS: usize = 5;
    pub const B_OFF: usize = 6;
    pub const B_RS: usize = 7;
    pub const B_CS: usize = 8;
    pub const C_OFF: usize = 9;
    pub const C_RS: usize = 10;
    pub const ACCUMULATE: usize = 11;
}

/// Word indices of the transpose (`shaders/train/transpose.wgsl`).
pub(crate) mod transpose {
    pub const ROWS: usize = 0;
    pub const COLS: usize = 1;
    pub const SRC: usize = 2;
    pub const DST: usize = 3;
}

/// Word indices of the optimizer kernels (`norm.wgsl`, `update.wgsl`).
pub(crate) mod opt {
    pub const COUNT: usize = 0;
    pub const KIND: usize = 1;
    pub const LR: usize = 2;
    pub const MOMENTUM: usize = 3;
    pub const BETA2: usize = 4;
    pub const EPS: usize = 5;
    pub const CORRECT1: usize = 6;
    pub const CORRECT2: usize = 7;
    pub const MAX_NORM: usize = 8;
    pub const ROW: usize = 9;
}

/// Compiled training pipelines with their bind-group layouts, in [`TrainKernel::ALL`] order.
pub(crate) struct TrainPipelines {
    pipelines: Vec<(wgpu::ComputePipeline, wgpu::BindGroupLayout)>,
}

impl TrainPipelines {
    pub fn new(device: &wgpu::Device) -> Result<Self> {
        capture(device, "building the training pipelines", || {
            let pipelines = TrainKernel::ALL
                .iter()
                .map(|&k| {
                    let mut entries = vec![wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    }];
                    for (i, &written) in k.storage().iter().enumerate() {
                        entries.push(wgpu::BindGroupLayoutEntry {
                            binding: i as u32 + 1,
                            visibility: wgpu::ShaderStages::COMPUTE,
                            ty: wgpu::BindingType::Buffer {
                                ty: wgpu::BufferBindingType::Storage { read_only: !written },
                                has_dynamic_offset: false,
                                min_binding_size: None,
                            },
                            count: None,
                        });
                    }
                    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(k.name()),
                        entries: &entries,
                    });
                    let descriptor = wgpu::ShaderModuleDescriptor {
                        label: Some(k.name()),
                        source: wgpu::ShaderSource::Wgsl(k.source()),
                    };
                    // SAFETY: every loop in these kernels is bounded by sizes from the uniform
                    // block or by sequence lengths checked against them, so the loop-termination
                    // counters wgpu would inject (a branch per iteration, and inner loops the
                    // compiler no longer unrolls) are not needed. Bounds checks on buffer
                    // accesses stay on. (As the inference kernels, src/gpu/pipelines.rs.)
                    let checks = wgpu::ShaderRuntimeChecks {
                        force_loop_bounding: false,
                        ..wgpu::ShaderRuntimeChecks::checked()
                    };
                    let module = unsafe { device.create_shader_module_trusted(descriptor, checks) };
                    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(k.name()),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
                    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(k.name()),
                        layout: Some(&pipeline_layout),
                        module: &module,
                        entry_point: Some("main"),
                        compilation_options: Default::default(),
                        cache: None,
                    });
                    (pipeline, layout)
                })
                .collect();
            TrainPipelines { pipelines }
        })
    }

    pub fn get(&self, kernel: TrainKernel) -> &(wgpu::ComputePipeline, wgpu::BindGroupLayout) {
        let i = TrainKernel::ALL
            .iter()
            .position(|&k| k == kernel)
            .expect("every kernel is built");
        &self.pipelines[i]
    }
}

#[cfg(test)]
#[path = "kernels_tests.rs"]
mod tests;
