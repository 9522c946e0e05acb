//! One compute pipeline per kernel, with its explicit bind-group layout; built once per engine.

use super::shaders::{self, Kernel};

/// A kernel's pipeline and the layout its bind groups must follow.
pub(crate) struct KernelPipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

impl KernelPipeline {
    fn new(device: &wgpu::Device, kernel: &Kernel, constants: &[(&str, f64)]) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.name),
            source: wgpu::ShaderSource::Wgsl(kernel.source.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(kernel.name),
            entries: &kernel.layout_entries(),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(kernel.name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(shaders::ENTRY_POINT),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                ..Default::default()
            },
            cache: None,
        });
        KernelPipeline { layout, pipeline }
    }

    /// A bind group over `buffers`, one per binding in order.
    pub fn bind_group(
        &self,
        device: &wgpu::Device,
        label: &'static str,
        buffers: &[wgpu::BindingResource<'_>],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, resource)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: resource.clone(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        })
    }
}

/// Every pipeline the engine records, specialised for one configuration.
pub(crate) struct Pipelines {
    pub input_projection: KernelPipeline,
    pub step: KernelPipeline,
    /// Only with `proj_size`.
    pub output_projection: Option<KernelPipeline>,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device, config: &crate::LstmConfig) -> Self {
        Pipelines {
            input_projection: KernelPipeline::new(device, &shaders::INPUT_PROJECTION, &[]),
            step: KernelPipeline::new(device, &shaders::STEP, &shaders::step_constants(config)),
            output_projection: config
                .proj_size
                .map(|_| KernelPipeline::new(device, &shaders::OUTPUT_PROJECTION, &[])),
        }
    }
}
