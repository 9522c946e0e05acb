//! [`Resources`]: every buffer and bind group a forward of one shape needs, and the plans of
//! dispatches over them.

use super::*;

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
    /// `[B]` u32: the pool rows of a stream pool's step, when an index buffer moves them.
    Slots,
    /// Four [`PoolRowsParams`](crate::backend::gpu::params::PoolRowsParams) blocks at
    /// `rows_param_stride` (h and c in, h and c back), written before such a step.
    RowsParams,
    /// The two resolved timestamps, where the device has timestamp queries.
    Timestamps,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    /// Bound as storage; copied in and out.
    Storage,
    /// Uniform blocks filled when the buffer is created.
    Uniform,
    /// Uniform blocks rewritten by `Queue::write_buffer` before each pass (training's).
    UniformWritten,
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

/// Every buffer and bind group of a forward of one shape, and where things are in them.
#[derive(Clone, Debug)]
pub(crate) struct Resources {
    pub dims: Dims,
    pub buffers: Vec<BufferSpec>,
    pub groups: Vec<GroupSpec>,
    pub io: IoSizes,
    /// Bytes between step-parameter blocks (the uniform offset alignment).
    pub param_stride: u64,
    /// Bytes between [`Buf::RowsParams`] blocks.
    pub rows_param_stride: u64,
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
        // The working buffer keeps a c region per unit for every cell (a cell without a cell state
        // writes its h there); only the LSTM's c is read in and out.
        let work_c = product(what, &[nl as u64, layer_c])?;
        let io = IoSizes {
            x: product(what, &[rows, config.input_size as u64, F32])?,
            lens: product(what, &[b, 4])?,
            y,
            h: product(what, &[nl as u64, layer_h])?,
            c: if config.cell.has_cell_state() { work_c } else { 0 },
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
        let rows_param_stride = round_up(
            what,
            std::mem::size_of::<PoolRowsParams>() as u64,
            target.uniform_align,
        )?;
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
                product(what, &[2, sum(what, &[io.h, work_c])?])?,
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
            spec(Buf::Slots, "pool slots", io.lens, Usage::Storage),
            spec(
                Buf::RowsParams,
                "pool rows params",
                product(what, &[4, rows_param_stride])?,
                Usage::UniformWritten,
            ),
        ];
        if target.timestamps {
            buffers.push(spec(
                Buf::Timestamps,
                "resolved timestamps",
                TIMESTAMP_BYTES,
                Usage::QueryResolve,
            ));
        }
        let gemm_kernel = KernelRef::Gemm(model.gemm).kernel(model.cell, model.format, None, 0);
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
                kernel: KernelRef::Step(StepVariant::Batch1, Schedule::Layers).kernel(
                    model.cell,
                    model.format,
                    None,
                    0,
                ),
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
                    kernel: KernelRef::OutputProjection.kernel(model.cell, model.format, None, 0),
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
            rows_param_stride,
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
