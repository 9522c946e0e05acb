//! The resident weights of an engine: packed into the kernels' layouts and uploaded once, one
//! buffer per entry of the [`ModelPlan`].

use wgpu::util::DeviceExt;

use super::packing;
use super::plan::{ModelPlan, WeightId};
use super::variants::GemmVariant;
use crate::weights::LstmWeights;

pub(crate) struct ModelWeights {
    pub plan: ModelPlan,
    /// In the order of `plan.weights`.
    pub buffers: Vec<wgpu::Buffer>,
}

impl ModelWeights {
    /// Pack and upload every buffer the plan lists.
    pub fn upload(device: &wgpu::Device, weights: &LstmWeights, plan: ModelPlan) -> ModelWeights {
        let h = weights.hidden_size();
        let layers = weights.layers();
        let buffers = plan
            .weights
            .iter()
            .map(|spec| {
                let data = match spec.id {
                    WeightId::Input(l) => {
                        let w = packing::input_weights(&layers[l], h);
                        match plan.gemm {
                            GemmVariant::Tiled => w,
                            GemmVariant::RegisterBlocked => packing::transposed(&w, layers[l].len() * 4 * h),
                        }
                    }
                    WeightId::Bias(l) => packing::summed_biases(&layers[l], h),
                    WeightId::Recurrent(l) => packing::recurrent_weights(&layers[l], h),
                    WeightId::Stacked => packing::stacked_weights(layers, h).0,
                    WeightId::Projection(l) => packing::projection_weights(&layers[l], h)
                        .expect("a projection is planned only with W_hr"),
                };
                debug_assert_eq!(data.len() as u64 * 4, spec.bytes, "{:?}", spec.id);
                device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(spec.label),
                    contents: bytemuck::cast_slice(&data),
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
