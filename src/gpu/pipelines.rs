//! One compute pipeline per kernel, with its explicit bind-group layout; built once per engine.

use super::shaders::{self, Kernel};

/// A kernel's pipeline and the layout its bind groups must follow.
pub(crate) struct KernelPipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

impl KernelPipeline {
    fn new(device: &wgpu::Device, kernel: &Kernel) -> Self {
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
            compilation_options: Default::default(),
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

/// Every pipeline the engine records.
pub(crate) struct Pipelines {
    pub projection: KernelPipeline,
    pub step: KernelPipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        Pipelines {
            projection: KernelPipeline::new(device, &shaders::PROJECTION),
            step: KernelPipeline::new(device, &shaders::STEP),
        }
    }
}
