//! The resident weights of an engine: packed into the kernels' layouts and uploaded once, one
//! buffer per entry of the [`ModelPlan`].

use wgpu::util::DeviceExt;

use super::packing;
use super::plan::{ModelPlan, WeightId};
use super::variants::GemmVariant;
use crate::config::Precision;
use crate::weights::{DirectionWeights, LstmWeights};

pub(crate) struct ModelWeights {
    pub plan: ModelPlan,
    /// In the order of `plan.weights`.
    pub buffers: Vec<wgpu::Buffer>,
}

impl ModelWeights {
    /// Pack and upload every buffer the plan lists, in its weight format: every weight rounded
    /// to the precision, W, R (with the peepholes) and W_hr stored as f16 or int8 where the
    /// format is (int8 keeping the scales of rows that came quantized), the summed biases as f32.
    pub fn upload(device: &wgpu::Device, weights: &LstmWeights, plan: ModelPlan) -> ModelWeights {
        let precision = plan.format.precision();
        // Rounded first, as the CPU reference rounds them: the f16 conversion below is exact and
        // the biases are summed from rounded values.
        let weights = weights.rounded(precision);
        let (h, cell, lbr) = (
            weights.hidden_size(),
            weights.cell(),
            weights.linear_before_reset(),
        );
        let layers = weights.layers();
        // W, R, W_hr and the peepholes in the layout of buffer `id`, and whether they are stored
        // in the format's precision (the summed biases stay f32).
        let packed = |layers: &[Vec<DirectionWeights>], id: WeightId| -> (Vec<f32>, bool) {
            match id {
                WeightId::Input(l) => {
                    let w = packing::input_weights(&layers[l], h, cell);
                    let w = match plan.gemm {
                        GemmVariant::Tiled { .. } => w,
                        GemmVariant::RegisterBlocked => packing::transposed(&w, layers[l].len() * 4 * h),
                    };
                    (w, true)
                }
                WeightId::Bias(l) => (packing::summed_biases(&layers[l], h, cell, lbr), false),
                WeightId::Recurrent(l) => (packing::recurrent_weights(&layers[l], h, cell), true),
                WeightId::Stacked => (packing::stacked_weights(layers, h, cell, lbr).0, true),
                WeightId::Projection(l) => (
                    packing::projection_weights(&layers[l], h)
                        .expect("a projection is planned only with W_hr"),
                    true,
                ),
            }
        };
        // int8: the own scales of rows that came quantized, laid out as their values.
        let own_scales = match precision {
            Precision::Int8 => weights.own_scales_as_weights(),
            _ => None,
        };
        let buffers = plan
            .weights
            .iter()
            .map(|spec| {
                let (data, f16) = packed(layers, spec.id);
                let bytes = match &spec.int8 {
                    Some(layout) => {
                        let own = own_scales.as_ref().map(|o| packed(o.layers(), spec.id).0);
                        bytemuck::cast_slice(&layout.pack(&data, own.as_deref())).to_vec()
                    }
                    None if f16 && precision == Precision::F16 => packing::to_f16_bytes(&data),
                    None => bytemuck::cast_slice(&data).to_vec(),
                };
                debug_assert_eq!(bytes.len() as u64, spec.bytes, "{:?}", spec.id);
                device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(spec.label),
                    contents: &bytes,
                    usage: wgpu::BufferUsages::STORAGE,
                })
            })
            .collect();
        ModelWeights { plan, buffers }
    }

    pub fn buffer(&self, id: WeightId) -> &wgpu::Buffer {
        &self.buffers[self.plan.index(id)]
    }
}
