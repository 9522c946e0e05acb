//! [`ModelPlan`]: the resident weight buffers of a model, in the kernels' layouts.

use super::super::int8::{Layout, Row};
use super::*;

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
    /// How an int8 buffer lays out its values, row table and scales (`int8.rs`); `None` in the
    /// other formats and for the f32 biases.
    pub int8: Option<Layout>,
}

/// The resident weights of a model: which buffers, how large, in which layout.
#[derive(Clone, Debug)]
pub(crate) struct ModelPlan {
    /// The recurrent cell, whose body the step kernels compose in.
    pub cell: Cell,
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
        // Bytes of `n` weights (biases stay f32), whole u32s; int8's are set by `set_gemm`.
        let wb = format.weight_bytes();
        let bytes_of = |n: u64| -> Result<u64> { round_up(what, product(what, &[n, wb])?, 4) };
        let mut weights = Vec::new();
        for l in 0..nl {
            let input = config.layer_input_size(l) as u64;
            weights.push(WeightSpec {
                id: WeightId::Input(l),
                label: "input weights",
                bytes: bytes_of(product(what, &[d, 4, h, input])?)?,
                int8: None,
            });
            weights.push(WeightSpec {
                id: WeightId::Bias(l),
                label: "bias",
                bytes: product(what, &[d, 4, h, F32])?,
                int8: None,
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
                int8: None,
            });
        } else {
            for l in 0..nl {
                weights.push(WeightSpec {
                    id: WeightId::Recurrent(l),
                    label: "recurrent weights",
                    bytes: block,
                    int8: None,
                });
            }
        }
        if config.proj_size.is_some() {
            for l in 0..nl {
                weights.push(WeightSpec {
                    id: WeightId::Projection(l),
                    label: "projection weights",
                    bytes: bytes_of(product(what, &[d, h, p])?)?,
                    int8: None,
                });
            }
        }
        let mut plan = ModelPlan {
            cell: config.cell,
            gemm,
            format,
            stacked,
            r_first,
            r_stride,
            weights,
        };
        plan.set_gemm(config, gemm);
        Ok(plan)
    }

    /// Read the input weights with `gemm`, whose layout int8 buffers' sizes depend on.
    pub fn set_gemm(&mut self, config: &LstmConfig, gemm: GemmVariant) {
        self.gemm = gemm;
        if self.format == WeightFormat::Int8 {
            // Packed values, their row table and scales (`int8.rs`); biases stay f32.
            let inputs: Vec<usize> = (0..config.num_layers)
                .map(|l| config.layer_input_size(l))
                .collect();
            let (d, h, p) = (config.num_directions(), config.hidden_size, config.output_size());
            for spec in self
                .weights
                .iter_mut()
                .filter(|w| !matches!(w.id, WeightId::Bias(_)))
            {
                let layout = int8_layout(spec.id, gemm, d, h, p, &inputs);
                spec.bytes = 4 * layout.words() as u64;
                spec.int8 = Some(layout);
            }
        }
    }

    /// Position of a weight buffer in [`ModelPlan::weights`].
    pub fn index(&self, id: WeightId) -> usize {
        self.weights
            .iter()
            .position(|w| w.id == id)
            .expect("the plan binds only weights it lists")
    }

    /// The buffer holding `layer`'s recurrent weights.
    pub(super) fn recurrent(&self, layer: usize) -> WeightId {
        if self.stacked {
            WeightId::Stacked
        } else {
            WeightId::Recurrent(layer)
        }
    }
}

/// The int8 layout (`int8.rs`) of buffer `id` of a model of `d` directions, H `h`, P `p` and
/// layer inputs `inputs`, its input weights read by `gemm`: which rows of the float layout
/// (`packing`) belong to one matrix, and which are kept exact.
fn int8_layout(id: WeightId, gemm: GemmVariant, d: usize, h: usize, p: usize, inputs: &[usize]) -> Layout {
    let matrix = |group: u32, n: usize| std::iter::repeat_n(Row::Matrix(group), n);
    match id {
        WeightId::Recurrent(_) => {
            // [D][P][H] R, then [D][H] peepholes.
            let rows = (0..d as u32)
                .flat_map(|dd| matrix(dd, p))
                .chain(std::iter::repeat_n(Row::Exact, d));
            Layout::vec4(h, rows.collect())
        }
        WeightId::Stacked => {
            // Layer 0's R and peepholes, then each upper layer's R, peepholes, W and biases.
            let mut rows: Vec<Row> = matrix(0, h).chain([Row::Exact]).collect();
            for l in 1..inputs.len() as u32 {
                rows.extend(matrix(2 * l - 1, h).chain([Row::Exact]));
                rows.extend(matrix(2 * l, h).chain([Row::Exact]));
            }
            Layout::vec4(h, rows)
        }
        WeightId::Input(l) => match gemm {
            // [D·4H][I]: each row an output row.
            GemmVariant::Tiled { .. } => Layout::new(
                1,
                inputs[l],
                false,
                (0..(d * 4 * h) as u32).map(Row::Matrix).collect(),
            ),
            // [I][D·H] vec4s: one matrix.
            GemmVariant::RegisterBlocked => Layout::vec4(d * h, matrix(0, inputs[l]).collect()),
        },
        // [D][H][P]: a matrix per direction.
        WeightId::Projection(_) => {
            Layout::new(1, p, true, (0..d as u32).flat_map(|dd| matrix(dd, h)).collect())
        }
        WeightId::Bias(_) => unreachable!("biases stay f32"),
    }
}
