//! The plan of a forward: the one place where its sizes, bindings and dispatches are worked out.
//!
//! - [`ModelPlan`]: the resident weight buffers of a model, in the kernels' layouts.
//! - [`Resources`]: every buffer a forward of shape (T, B) needs, with its size and usage, and
//!   every bind group over them and the weights. They do not depend on the kernel choice, so one
//!   allocation serves every variant.
//! - [`Plan`]: the dispatches a choice of kernels records, each with its kernel, bind group,
//!   dynamic offset and grid.
//!
//! The limit checks (`limits`), allocation (`Workspace::new`), recording (`Workspace::record`),
//! the autotune (which times slices of plans) and the counters of `ForwardStats` all read these.
//! Every size is computed with checked arithmetic, before anything is allocated.

use super::grid;
use super::params::{GemmParams, StepParams};
use super::shaders::{self, Kernel, KernelRef, WeightFormat};
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
use crate::config::{Layout, LstmConfig};
use crate::error::{Error, Result};
use crate::forward::Dims;

const F32: u64 = 4;

/// Bytes of the two resolved u64 timestamps at the end of the staging buffer.
pub(crate) const TIMESTAMP_BYTES: u64 = 16;

/// The product of `factors`, or an error naming `what` when it overflows.
fn product(what: &str, factors: &[u64]) -> Result<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

/// The sum of `terms`, or an error naming `what` when it overflows.
fn sum(what: &str, terms: &[u64]) -> Result<u64> {
    terms
        .iter()
        .try_fold(0u64, |acc, &t| acc.checked_add(t))
        .ok_or_else(|| Error::Overflow { what: what.into() })
}

/// `value` rounded up to a multiple of `align`.
fn round_up(what: &str, value: u64, align: u64) -> Result<u64> {
    product(what, &[value.div_ceil(align.max(1)), align.max(1)])
}

fn to_u32(what: &str, value: u64) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::Overflow { what: what.into() })
}

/// D, H, P and L.
fn model_sizes(config: &LstmConfig) -> (u64, u64, u64, usize) {
    (
        config.num_directions() as u64,
        config.hidden_size as u64,
        config.output_size() as u64,
        config.num_layers,
    )
}

/// What a plan needs to know of the device: alignments and whether it has timestamp queries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    pub uniform_align: u64,
    pub storage_align: u64,
    pub timestamps: bool,
    /// `max_compute_workgroups_per_dimension`: grids past it fold (`grid.rs`).
    pub max_workgroups: u64,
}

impl Target {
    pub fn of(device: &wgpu::Device) -> Target {
        let limits = device.limits();
        Target {
            uniform_align: limits.min_uniform_buffer_offset_alignment as u64,
            storage_align: limits.min_storage_buffer_offset_alignment as u64,
            timestamps: device.features().contains(wgpu::Features::TIMESTAMP_QUERY),
            max_workgroups: limits.max_compute_workgroups_per_dimension as u64,
        }
    }
}

/// A resident weight buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WeightId {
    /// A layer's input-projection weights, in the GEMM variant's layout.
    Input(usize),
    /// A layer's summed biases.
    Bias(usize),
    /// A layer's recurrent weights and peepholes.
    Recurrent(usize),
    /// Every layer's recurrent weights, and layers ≥ 1's input weights and biases, in one buffer
    /// (`packing::stacked_weights`), for models that can run as a wavefront.
    Stacked,
    /// A layer's projection W_hr, transposed.
    Projection(usize),
}

#[derive(Clone, Debug)]
pub(crate) struct WeightSpec {
    pub id: WeightId,
    pub label: &'static str,
    pub bytes: u64,
}

/// The resident weights of a model: which buffers, how large, in which layout.
#[derive(Clone, Debug)]
pub(crate) struct ModelPlan {
    pub gemm: GemmVariant,
    /// How W, R and W_hr are stored (biases stay f32).
    pub format: WeightFormat,
    /// Whether the recurrent weights are stacked, so the layers can also run as a wavefront.
    pub stacked: bool,
    /// In vec4s, where layer 1's block starts in the stacked buffer and the stride between the
    /// blocks after it (both 0 with one buffer per layer).
    pub r_first: u32,
    pub r_stride: u32,
    pub weights: Vec<WeightSpec>,
}

impl ModelPlan {
    /// The weights of `config` for the GEMM variant, stacked when `stacked` (which needs a
    /// configuration that can run as a wavefront, [`Schedule::wavefront_fits`]), in the
    /// configuration's precision (native f16 where `shader_f16`).
    pub fn new(config: &LstmConfig, gemm: GemmVariant, stacked: bool, shader_f16: bool) -> Result<ModelPlan> {
        let stacked = stacked && Schedule::wavefront_fits(config);
        let format = WeightFormat::of(config.weights_precision, shader_f16);
        let (d, h, p, nl) = model_sizes(config);
        let what = "the model's weights";
        // Bytes of `n` weights (biases stay f32), whole u32s.
        let wb = format.weight_bytes();
        let bytes_of = |n: u64| -> Result<u64> { round_up(what, product(what, &[n, wb])?, 4) };
        let mut weights = Vec::new();
        for l in 0..nl {
            let input = config.layer_input_size(l) as u64;
            weights.push(WeightSpec {
                id: WeightId::Input(l),
                label: "input weights",
                bytes: bytes_of(product(what, &[d, 4, h, input])?)?,
            });
            weights.push(WeightSpec {
                id: WeightId::Bias(l),
                label: "bias",
                bytes: product(what, &[d, 4, h, F32])?,
            });
        }
        // One layer's block of recurrent weights and peepholes: [D][P][H] vec4s, then [D][H].
        let block_vec4s = product(what, &[d, sum(what, &[p, 1])?, h])?;
        let block = bytes_of(product(what, &[block_vec4s, 4])?)?;
        let (mut r_first, mut r_stride) = (0, 0);
        if stacked {
            // After layer 0's block, each layer's R and peepholes, W_ih (I = H) and biases:
            // (H + 1)·H + H·H + H = 2·(H + 1)·H vec4s.
            let upper = product(what, &[2, h + 1, h])?;
            r_first = to_u32(what, block_vec4s)?;
            r_stride = to_u32(what, upper)?;
            let vec4s = sum(what, &[block_vec4s, product(what, &[nl as u64 - 1, upper])?])?;
            weights.push(WeightSpec {
                id: WeightId::Stacked,
                label: "stacked weights",
                bytes: bytes_of(product(what, &[vec4s, 4])?)?,
            });
        } else {
            for l in 0..nl {
                weights.push(WeightSpec {
                    id: WeightId::Recurrent(l),
                    label: "recurrent weights",
                    bytes: block,
                });
            }
        }
        if config.proj_size.is_some() {
            for l in 0..nl {
                weights.push(WeightSpec {
                    id: WeightId::Projection(l),
                    label: "projection weights",
                    bytes: bytes_of(product(what, &[d, h, p])?)?,
                });
            }
        }
        Ok(ModelPlan {
            gemm,
            format,
            stacked,
            r_first,
            r_stride,
            weights,
        })
    }

    /// Position of a weight buffer in [`ModelPlan::weights`].
    pub fn index(&self, id: WeightId) -> usize {
        self.weights
            .iter()
            .position(|w| w.id == id)
            .expect("the plan binds only weights it lists")
    }

    /// The buffer holding `layer`'s recurrent weights.
    fn recurrent(&self, layer: usize) -> WeightId {
        if self.stacked {
            WeightId::Stacked
        } else {
            WeightId::Recurrent(layer)
        }
    }
}

/// A per-shape buffer of a forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Buf {
    /// X `[T·B, I]` in the config's layout.
    X,
    /// `[B]` u32 lengths.
    Lens,
    /// `[h half 0 | h half 1 | c | m]`: h halves `[L][D][B][P]`, c and m `[L][D][B][H]`.
    Work,
    /// The input projection `[T·B, D·4H]`.
    Xp,
    /// The Y pair: layer l writes half l % 2.
    Ys,
    /// One [`StepParams`] block per dispatch, at `param_stride`.
    StepParams,
    /// One layer's [`GemmParams`].
    GemmParams(usize),
    /// h and c of one-shot forwards (`[L·D][B][P]`, `[L·D][B][H]`).
    StateH,
    StateC,
    /// `[y | h_n | c_n | timestamps]`, mapped once per forward.
    Staging,
    /// The two resolved timestamps, where the device has timestamp queries.
    Timestamps,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Bound as storage; copied in and out.
    Storage,
    Uniform,
    /// Only copied (the state of one-shot forwards).
    Copy,
    /// Mapped for reading.
    Staging,
    QueryResolve,
}

#[derive(Clone, Debug)]
pub(crate) struct BufferSpec {
    pub buf: Buf,
    pub label: &'static str,
    pub bytes: u64,
    pub usage: Usage,
}

/// What a bind-group entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `size` bytes of a per-shape buffer from `offset` (the rest of it when `None`).
    Buffer {
        buf: Buf,
        offset: u64,
        size: Option<u64>,
    },
    Weight(WeightId),
}

impl Resource {
    fn whole(buf: Buf) -> Resource {
        Resource::Buffer {
            buf,
            offset: 0,
            size: None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GroupSpec {
    /// The kernel whose bind-group layout the group follows.
    pub kernel: &'static Kernel,
    pub label: &'static str,
    pub entries: Vec<Resource>,
}

/// Byte sizes of what crosses between host (or caller) and the engine in a forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoSizes {
    pub x: u64,
    pub lens: u64,
    /// The last layer's Y.
    pub y: u64,
    /// Every layer's h and c.
    pub h: u64,
    pub c: u64,
}

/// The sizes of a (GEMM) input projection: `rows × n` outputs over `k` inputs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GemmShape {
    pub rows: u64,
    pub n: u64,
    pub k: u64,
}

impl GemmShape {
    /// Workgroups of the variant's dispatch.
    pub fn grid(self, variant: GemmVariant) -> [u64; 3] {
        match variant {
            GemmVariant::Tiled { m, n, .. } => [self.n.div_ceil(n as u64), self.rows.div_ceil(m as u64), 1],
            GemmVariant::RegisterBlocked => {
                let columns = (shaders::INPUT_PROJECTION_BLOCKED_COLUMNS
                    * shaders::INPUT_PROJECTION_BLOCKED_WORKGROUP) as u64;
                [
                    (self.n / 4).div_ceil(columns),
                    self.rows.div_ceil(shaders::INPUT_PROJECTION_BLOCKED_ROWS as u64),
                    1,
                ]
            }
        }
    }

    pub fn params(self) -> Result<GemmParams> {
        let what = "the input projection's sizes";
        Ok(GemmParams {
            m: to_u32(what, self.rows)?,
            n: to_u32(what, self.n)?,
            k: to_u32(what, self.k)?,
            _pad: 0,
        })
    }
}

/// Every buffer and bind group of a forward of one shape, and where things are in them.
#[derive(Clone, Debug)]
pub(crate) struct Resources {
    pub dims: Dims,
    pub buffers: Vec<BufferSpec>,
    pub groups: Vec<GroupSpec>,
    pub io: IoSizes,
    /// Bytes between step-parameter blocks (the uniform offset alignment).
    pub param_stride: u64,
    /// Where the last layer's Y starts in [`Buf::Ys`].
    pub y_offset: u64,
    /// Where every layer's h is in [`Buf::Work`] after T steps (half T % 2), and where c is.
    pub h_out_offset: u64,
    pub c_offset: u64,
    /// Where the timestamps sit in the staging buffer, when there are any.
    pub timestamps_at: Option<u64>,
    /// Step-parameter blocks: L·T layer by layer, then T + L − 1 for the wavefront when the
    /// weights are stacked.
    blocks: u64,
    stacked: bool,
    /// The model's sizes and options, for what fits it.
    config: LstmConfig,
    format: WeightFormat,
    layers: usize,
    gemm: GemmVariant,
    gemm_shapes: Vec<GemmShape>,
    gemm_params: Vec<GemmParams>,
    /// Bind groups: each layer's GEMM, step and (with projection) output projection.
    gemm_groups: Vec<usize>,
    step_groups: Vec<usize>,
    projection_groups: Vec<usize>,
    /// Per step workgroup grid: units (H), batch, directions; and P for the projection.
    hidden: u64,
    out: u64,
    batch: u64,
    directions: u64,
    /// Grids past this extent fold (`grid.rs`).
    max_workgroups: u64,
    /// Fields of every [`StepParams`] block but the step and layer (and a wavefront's grid_z).
    step_template: StepParams,
}

impl Resources {
    /// Size everything a forward of `dims` needs; nothing is allocated.
    pub fn new(config: &LstmConfig, model: &ModelPlan, dims: Dims, target: Target) -> Result<Resources> {
        let (t, b) = (dims.seq_len as u64, dims.batch as u64);
        let (d, h, p, nl) = model_sizes(config);
        let what = "the request's buffers";
        let rows = product(what, &[t, b])?;
        let n = product(what, &[d, 4, h])?;
        let layer_h = product(what, &[d, b, p, F32])?;
        let layer_c = product(what, &[d, b, h, F32])?;
        let y = product(what, &[rows, d, p, F32])?;
        let io = IoSizes {
            x: product(what, &[rows, config.input_size as u64, F32])?,
            lens: product(what, &[b, 4])?,
            y,
            h: product(what, &[nl as u64, layer_h])?,
            c: product(what, &[nl as u64, layer_c])?,
        };
        // Layer l writes half l % 2 of the Y pair; halves start at aligned offsets so that the
        // next layer's input projection can bind the half it reads.
        let y_half = round_up(what, y.max(F32), target.storage_align)?;
        let param_stride = round_up(
            what,
            std::mem::size_of::<StepParams>() as u64,
            target.uniform_align,
        )?;
        // One block per step dispatch: (layer, step) layer by layer, then with stacked weights
        // the wavefront's (first layer, k).
        let mut block_count = product(what, &[nl as u64, t])?;
        if model.stacked {
            block_count = sum(what, &[block_count, t, nl as u64 - 1])?;
        }
        let staging = sum(
            what,
            &[y, io.h, io.c, if target.timestamps { TIMESTAMP_BYTES } else { 0 }],
        )?;
        let spec = |buf, label, bytes: u64, usage| BufferSpec {
            buf,
            label,
            bytes: bytes.max(F32),
            usage,
        };
        let mut buffers = vec![
            spec(Buf::X, "x", io.x, Usage::Storage),
            spec(Buf::Lens, "seq_lens", io.lens, Usage::Storage),
            spec(
                Buf::Work,
                "work state",
                product(what, &[2, sum(what, &[io.h, io.c])?])?,
                Usage::Storage,
            ),
            spec(Buf::Xp, "xp", product(what, &[rows, n, F32])?, Usage::Storage),
            spec(
                Buf::Ys,
                "y pair",
                product(what, &[nl.min(2) as u64, y_half])?,
                Usage::Storage,
            ),
            spec(
                Buf::StepParams,
                "step params",
                product(what, &[block_count, param_stride])?,
                Usage::Uniform,
            ),
            spec(Buf::StateH, "lstm state h", io.h, Usage::Copy),
            spec(Buf::StateC, "lstm state c", io.c, Usage::Copy),
            spec(Buf::Staging, "staging", staging, Usage::Staging),
        ];
        if target.timestamps {
            buffers.push(spec(
                Buf::Timestamps,
                "resolved timestamps",
                TIMESTAMP_BYTES,
                Usage::QueryResolve,
            ));
        }
        let gemm_kernel = KernelRef::Gemm(model.gemm).kernel(model.format, None);
        let mut groups = Vec::new();
        let mut gemm_groups = Vec::new();
        let mut gemm_shapes = Vec::new();
        for l in 0..nl {
            buffers.push(spec(
                Buf::GemmParams(l),
                "input projection params",
                std::mem::size_of::<GemmParams>() as u64,
                Usage::Uniform,
            ));
            let x = if l == 0 {
                Resource::whole(Buf::X)
            } else {
                Resource::Buffer {
                    buf: Buf::Ys,
                    offset: ((l - 1) % 2) as u64 * y_half,
                    size: Some(y.max(F32)),
                }
            };
            gemm_shapes.push(GemmShape {
                rows,
                n,
                k: config.layer_input_size(l) as u64,
            });
            gemm_groups.push(groups.len());
            groups.push(GroupSpec {
                kernel: gemm_kernel,
                label: "input_projection",
                entries: vec![
                    Resource::whole(Buf::GemmParams(l)),
                    x,
                    Resource::Weight(WeightId::Input(l)),
                    Resource::Weight(WeightId::Bias(l)),
                    Resource::whole(Buf::Xp),
                ],
            });
        }
        let step_params = Resource::Buffer {
            buf: Buf::StepParams,
            offset: 0,
            size: Some(std::mem::size_of::<StepParams>() as u64),
        };
        // Per layer, or one over the stacked weights of the wavefront, which serves every layer.
        let mut step_groups = Vec::new();
        for l in 0..nl {
            if model.stacked && l > 0 {
                step_groups.push(step_groups[0]);
                continue;
            }
            step_groups.push(groups.len());
            groups.push(GroupSpec {
                kernel: KernelRef::Step(StepVariant::Batch1, Schedule::Layers).kernel(model.format, None),
                label: "step",
                entries: vec![
                    step_params,
                    Resource::whole(Buf::Xp),
                    Resource::Weight(model.recurrent(l)),
                    Resource::whole(Buf::Lens),
                    Resource::whole(Buf::Work),
                    Resource::whole(Buf::Ys),
                ],
            });
        }
        let mut projection_groups = Vec::new();
        if config.proj_size.is_some() {
            for l in 0..nl {
                projection_groups.push(groups.len());
                groups.push(GroupSpec {
                    kernel: KernelRef::OutputProjection.kernel(model.format, None),
                    label: "output_projection",
                    entries: vec![
                        step_params,
                        Resource::whole(Buf::Lens),
                        Resource::Weight(WeightId::Projection(l)),
                        Resource::whole(Buf::Work),
                        Resource::whole(Buf::Ys),
                    ],
                });
            }
        }

        let gemm_params = gemm_shapes
            .iter()
            .map(|shape| shape.params())
            .collect::<Result<Vec<_>>>()?;
        // Steps and wavefront dispatches are numbered in u32 by the kernels.
        let (t32, nl32) = (to_u32(what, t)?, nl as u32);
        to_u32(what, sum(what, &[t, nl as u64])?)?;
        let (stride_t, stride_b) = match config.layout {
            Layout::SeqMajor => (to_u32(what, b)?, 1),
            Layout::BatchMajor => (1, t32),
        };
        let step_template = StepParams {
            step: 0,
            seq_len: t32,
            batch: to_u32(what, b)?,
            hidden: to_u32(what, h)?,
            out_size: to_u32(what, p)?,
            directions: d as u32,
            reverse_mask: (0..config.num_directions())
                .filter(|&k| config.direction.is_reversed(k))
                .map(|k| 1u32 << k)
                .sum(),
            stride_t,
            stride_b,
            layer: 0,
            layers: nl32,
            y_half: to_u32(what, y_half / F32)?,
            r_first: model.r_first,
            r_stride: model.r_stride,
            grid_z: d as u32,
            _pad: 0,
        };
        Ok(Resources {
            dims,
            buffers,
            groups,
            io,
            param_stride,
            y_offset: ((nl - 1) % 2) as u64 * y_half,
            h_out_offset: (t % 2) * io.h,
            c_offset: 2 * io.h,
            timestamps_at: target.timestamps.then_some(y + io.h + io.c),
            blocks: block_count,
            stacked: model.stacked,
            config: config.clone(),
            format: model.format,
            layers: nl,
            gemm: model.gemm,
            gemm_shapes,
            gemm_params,
            gemm_groups,
            step_groups,
            projection_groups,
            hidden: h,
            out: p,
            batch: b,
            directions: d,
            max_workgroups: target.max_workgroups,
            step_template,
        })
    }

    pub fn buffer(&self, buf: Buf) -> &BufferSpec {
        self.buffers
            .iter()
            .find(|s| s.buf == buf)
            .expect("the plan binds only buffers it lists")
    }

    /// The contents of a uniform buffer.
    pub fn uniform_contents(&self, buf: Buf) -> Vec<u8> {
        match buf {
            Buf::GemmParams(l) => bytemuck::bytes_of(&self.gemm_params[l]).to_vec(),
            Buf::StepParams => {
                let stride = self.param_stride as usize;
                let (t, layer_blocks) = (
                    self.dims.seq_len as u32,
                    self.layers as u32 * self.dims.seq_len as u32,
                );
                let mut bytes = vec![0u8; self.blocks as usize * stride];
                for n in 0..self.blocks as u32 {
                    // Layer by layer, block l·T + s is step s of layer l. Wavefront dispatch k
                    // (block L·T + k) runs from layer max(0, k − (T − 1)).
                    let (layer, step, grid_z) = if n < layer_blocks {
                        (n / t, n % t, self.step_template.grid_z)
                    } else {
                        let k = n - layer_blocks;
                        let first = k.saturating_sub(t - 1);
                        (first, k, k.min(self.layers as u32 - 1) + 1 - first)
                    };
                    let params = StepParams {
                        step,
                        layer,
                        grid_z,
                        ..self.step_template
                    };
                    bytes[n as usize * stride..][..std::mem::size_of::<StepParams>()]
                        .copy_from_slice(bytemuck::bytes_of(&params));
                }
                bytes
            }
            other => unreachable!("{other:?} is not a uniform buffer"),
        }
    }

    /// What runs for `variants`: the wavefront falls back on layer-by-layer where the model
    /// cannot run it (its weights are not stacked, or the step has no wavefront kernel), and a
    /// sequence kernel that does not fit the model on `step-b1`.
    pub fn effective(&self, variants: Variants) -> Variants {
        variants.fitted(self.stacked, &self.config)
    }

    /// The dispatches of a forward with these kernels (made [`effective`](Self::effective)).
    pub fn plan(&self, variants: Variants) -> Plan {
        let variants = Variants {
            gemm: self.gemm,
            ..self.effective(variants)
        };
        let step = variants.step;
        let t = self.dims.seq_len;
        let mut dispatches = Vec::new();
        let block = |n: usize| Some(n as u64 * self.param_stride);
        match variants.schedule {
            Schedule::Layers => {
                for layer in 0..self.layers {
                    dispatches.push(self.gemm_dispatch(layer));
                    if step.whole_sequence() {
                        // Every step of the layer in one dispatch, from its first block.
                        dispatches.push(Dispatch {
                            kernel: KernelRef::Step(step, Schedule::Layers),
                            group: self.step_groups[layer],
                            offset: block(layer * t),
                            grid: self.fold([1, self.batch, self.directions]),
                            part: Part::Sequence { layer },
                        });
                        continue;
                    }
                    for s in 0..t {
                        dispatches.push(Dispatch {
                            kernel: KernelRef::Step(step, Schedule::Layers),
                            group: self.step_groups[layer],
                            offset: block(layer * t + s),
                            grid: self.step_grid(step, self.directions),
                            part: Part::Step { layer, step: s },
                        });
                        if let Some(&group) = self.projection_groups.get(layer) {
                            dispatches.push(Dispatch {
                                kernel: KernelRef::OutputProjection,
                                group,
                                offset: block(layer * t + s),
                                grid: self.fold([
                                    self.out.div_ceil(shaders::STEP_WORKGROUP as u64),
                                    self.batch,
                                    self.directions,
                                ]),
                                part: Part::OutputProjection { layer, step: s },
                            });
                        }
                    }
                }
            }
            Schedule::Wavefront => {
                dispatches.push(self.gemm_dispatch(0));
                for k in 0..t + self.layers - 1 {
                    // Every layer l with 0 ≤ k − l < T.
                    let first = k.saturating_sub(t - 1);
                    let last = k.min(self.layers - 1);
                    dispatches.push(Dispatch {
                        kernel: KernelRef::Step(step, Schedule::Wavefront),
                        group: self.step_groups[0],
                        offset: block(self.layers * t + k),
                        grid: self.step_grid(step, (last + 1 - first) as u64),
                        part: Part::Wavefront { k },
                    });
                }
            }
        }
        Plan { variants, dispatches }
    }

    /// Bytes of weights the recurrent kernels of `plan` read per timestep, as modelled: a
    /// workgroup reads its units' columns of R for the batch elements it holds, so a variant
    /// holding `n` elements per workgroup (or per invocation) reads each layer's R ⌈B / n⌉ times
    /// per step; the sequence kernel streams R for each batch element every step; the
    /// register-resident one reads it once per sequence. A wavefront's upper layers also read
    /// their W_ih, and a projection reads W_hr for each batch element.
    pub fn weight_bytes_per_step(&self, plan: &Plan) -> u64 {
        let wb = self.format.weight_bytes();
        let (d, h, p, b, t) = (
            self.directions,
            self.hidden,
            self.out,
            self.batch,
            self.dims.seq_len as u64,
        );
        let r = d * p * h * 4 * wb;
        let step = plan.variants.step;
        let reads = match step {
            StepVariant::Sequence => b,
            _ => b.div_ceil(step.batch_block() as u64),
        };
        let layers = self.layers as u64;
        let mut bytes = match step {
            StepVariant::SequenceResident => layers * b * r / t.max(1),
            _ => layers * reads * r,
        };
        if plan.variants.schedule == Schedule::Wavefront {
            // Upper layers' W_ih (I = H) beside their R.
            bytes += (layers - 1) * reads * h * h * 4 * wb;
        }
        if self.config.proj_size.is_some() {
            bytes += layers * b * d * h * p * wb;
        }
        bytes
    }

    fn gemm_dispatch(&self, layer: usize) -> Dispatch {
        Dispatch {
            kernel: KernelRef::Gemm(self.gemm),
            group: self.gemm_groups[layer],
            offset: None,
            grid: self.fold(self.gemm_shapes[layer].grid(self.gemm)),
            part: Part::InputProjection { layer },
        }
    }

    /// A logical grid as dispatched on the target: y past its limit folds into z.
    fn fold(&self, grid: [u64; 3]) -> [u64; 3] {
        grid::fold_y(grid, self.max_workgroups)
    }

    /// Workgroups of a step: along units and batch, and `z` directions (or wavefront layers).
    fn step_grid(&self, step: StepVariant, z: u64) -> [u64; 3] {
        let (units, batch) = (step.units() as u64, step.batch_block() as u64);
        self.fold(match step {
            // A workgroup per `units` units of `batch` elements.
            StepVariant::SplitK { .. } | StepVariant::Tiled { .. } => {
                [self.hidden.div_ceil(units), self.batch.div_ceil(batch), z]
            }
            _ => [
                self.hidden.div_ceil(units * shaders::STEP_WORKGROUP as u64),
                self.batch.div_ceil(batch),
                z,
            ],
        })
    }
}

/// What a dispatch computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// A layer's input projection, all timesteps and directions.
    InputProjection { layer: usize },
    /// Step `step` of a layer, all directions (layer by layer).
    Step { layer: usize, step: usize },
    /// The projection h = W_hr·m after that step.
    OutputProjection { layer: usize, step: usize },
    /// Wavefront dispatch k: every layer l with 0 ≤ k − l < T, at step k − l.
    Wavefront { k: usize },
    /// Every step of a layer (the sequence kernel).
    Sequence { layer: usize },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Dispatch {
    pub kernel: KernelRef,
    /// Index into [`Resources::groups`].
    pub group: usize,
    /// Dynamic offset into the step parameters.
    pub offset: Option<u64>,
    /// Workgroups along x, y and z (checked against the device by `limits::check_plan`).
    pub grid: [u64; 3],
    pub part: Part,
}

/// The dispatches of one forward, in recording order.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// What runs (a forced wavefront the model cannot run is layer by layer here).
    pub variants: Variants,
    pub dispatches: Vec<Dispatch>,
}

impl Plan {
    /// The first dispatch of `part`.
    pub fn find(&self, part: Part) -> Option<&Dispatch> {
        self.dispatches.iter().find(|d| d.part == part)
    }

    /// Every kernel the plan dispatches, once each.
    pub fn kernels(&self) -> Vec<KernelRef> {
        let mut kernels: Vec<KernelRef> = Vec::new();
        for d in &self.dispatches {
            if !kernels.contains(&d.kernel) {
                kernels.push(d.kernel);
            }
        }
        kernels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::gpu::packing;
    use crate::config::Direction;
    use crate::weights::LstmWeights;

    const TARGET: Target = Target {
        uniform_align: 256,
        storage_align: 256,
        timestamps: false,
        max_workgroups: 65_535,
    };

    fn config(layers: usize, direction: Direction, proj: Option<usize>) -> LstmConfig {
        LstmConfig {
            input_size: 5,
            hidden_size: 7,
            num_layers: layers,
            direction,
            proj_size: proj,
            ..LstmConfig::default()
        }
    }

    /// The weight sizes the plan lists are those packing produces.
    #[test]
    fn model_plan_sizes_match_the_packed_weights() {
        for (cfg, stacked) in [
            (config(3, Direction::Forward, None), true),
            (config(3, Direction::Forward, None), false),
            (config(2, Direction::Bidirectional, Some(3)), false),
        ] {
            let w = LstmWeights::random(&cfg, 0).unwrap();
            let model = ModelPlan::new(&cfg, GemmVariant::TILED, stacked, false).unwrap();
            assert_eq!(model.stacked, stacked);
            let floats = |id| model.weights[model.index(id)].bytes / F32;
            for (l, dirs) in w.layers().iter().enumerate() {
                let input = packing::input_weights(dirs, cfg.hidden_size);
                let bias = packing::summed_biases(dirs, cfg.hidden_size);
                assert_eq!(floats(WeightId::Input(l)), input.len() as u64);
                assert_eq!(floats(WeightId::Bias(l)), bias.len() as u64);
                if !stacked {
                    let r = packing::recurrent_weights(dirs, cfg.hidden_size);
                    assert_eq!(floats(WeightId::Recurrent(l)), r.len() as u64);
                }
                if let Some(p) = packing::projection_weights(dirs, cfg.hidden_size) {
                    assert_eq!(floats(WeightId::Projection(l)), p.len() as u64);
                }
            }
            if stacked {
                let (s, first, stride) = packing::stacked_weights(w.layers(), cfg.hidden_size);
                assert_eq!(floats(WeightId::Stacked), s.len() as u64);
                assert_eq!((model.r_first, model.r_stride), (first, stride));
            }
        }
    }

    /// Layer by layer, L·(1 + T) dispatches (L·(1 + 2T) with a projection); as a wavefront,
    /// 1 + T + L − 1, whose z extent counts the layers each runs.
    #[test]
    fn dispatch_counts_and_wavefront_extents() {
        let dims = Dims { seq_len: 4, batch: 3 };
        let cfg = config(3, Direction::Forward, None);
        let model = ModelPlan::new(&cfg, GemmVariant::RegisterBlocked, true, false).unwrap();
        let res = Resources::new(&cfg, &model, dims, TARGET).unwrap();
        let v = |step, schedule| Variants {
            gemm: GemmVariant::RegisterBlocked,
            step,
            schedule,
        };
        let layers = res.plan(v(StepVariant::Batch2, Schedule::Layers));
        assert_eq!(layers.dispatches.len(), 3 * (1 + 4));
        let wave = res.plan(v(StepVariant::Batch2, Schedule::Wavefront));
        assert_eq!(wave.dispatches.len(), 1 + 4 + 3 - 1);
        let z: Vec<u64> = wave.dispatches[1..].iter().map(|d| d.grid[2]).collect();
        assert_eq!(z, [1, 2, 3, 3, 2, 1]);
        // Split-K has no wavefront kernel.
        let splitk = res.plan(v(StepVariant::ALL[5], Schedule::Wavefront));
        assert_eq!(splitk.variants.schedule, Schedule::Layers);

        let cfg = config(2, Direction::Bidirectional, Some(3));
        let model = ModelPlan::new(&cfg, GemmVariant::TILED, true, false).unwrap();
        assert!(!model.stacked, "a bidirectional stack cannot run as a wavefront");
        let res = Resources::new(&cfg, &model, dims, TARGET).unwrap();
        let plan = res.plan(v(StepVariant::Batch1, Schedule::Wavefront));
        assert_eq!(plan.variants.schedule, Schedule::Layers);
        assert_eq!(plan.dispatches.len(), 2 * (1 + 2 * 4));
    }

    /// The register-blocked GEMM's grid has one workgroup row per 16 rows of T·B.
    #[test]
    fn gemm_grids_follow_the_variant() {
        let shape = GemmShape {
            rows: 70_000 * 30,
            n: 4,
            k: 1,
        };
        assert_eq!(shape.grid(GemmVariant::RegisterBlocked)[1], 131_250);
        assert_eq!(shape.grid(GemmVariant::TILED)[1], 32_813);
    }

    #[test]
    fn sizes_that_overflow_are_errors() {
        let cfg = config(1, Direction::Forward, None);
        let model = ModelPlan::new(&cfg, GemmVariant::TILED, false, false).unwrap();
        let dims = Dims {
            seq_len: 1 << 62,
            batch: 4,
        };
        assert!(matches!(
            Resources::new(&cfg, &model, dims, TARGET),
            Err(Error::Overflow { .. })
        ));
        let huge = LstmConfig {
            hidden_size: 1 << 62,
            ..cfg
        };
        assert!(matches!(
            ModelPlan::new(&huge, GemmVariant::TILED, false, false),
            Err(Error::Overflow { .. })
        ));
    }
}
