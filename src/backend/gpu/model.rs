//! The resident weights of an engine: packed into the kernels' layouts and uploaded once, one
//! buffer per entry of the [`ModelPlan`].

use wgpu::util::DeviceExt;

use super::packing;
use super::plan::{ModelPlan, WeightId};
use super::shaders::WeightFormat;
use super::variants::GemmVariant;
use crate::config::Precision;
use crate::weights::LstmWeights;

pub(crate) struct ModelWeights {
    pub plan: ModelPlan,
    /// In the order of `plan.weights`.
    pub buffers: Vec<wgpu::Buffer>,
}

impl ModelWeights {
    /// Pack and upload every buffer the plan lists, in its weight format: every weight rounded
    /// to the precision, W, R (with the peepholes) and W_hr stored as f16 where the format is,
    /// the summed biases as f32.
    pub fn upload(device: &wgpu::Device, weights: &LstmWeights, plan: ModelPlan) -> ModelWeights {
        let precision = match plan.format {
            WeightFormat::F32 => Precision::F32,
            WeightFormat::F16 | WeightFormat::F16Native => Precision::F16,
        };
        // Rounded first, as the CPU reference rounds them: the f16 conversion below is exact and
        // the biases are summed from rounded values.
        let weights = weights.rounded(precision);
        let (h, cell, lbr) = (
            weights.hidden_size(),
            weights.cell(),
            weights.linear_before_reset(),
        );
        let layers = weights.layers();
        let buffers = plan
            .weights
            .iter()
            .map(|spec| {
                let (data, f16) = match spec.id {
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
                };
                let bytes = if f16 && precision == Precision::F16 {
                    packing::to_f16_bytes(&data)
                } else {
                    bytemuck::cast_slice(&data).to_vec()
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
