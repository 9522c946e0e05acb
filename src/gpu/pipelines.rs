//! One compute pipeline per kernel, with its explicit bind-group layout, and the cache that
//! shares them between engines on one device.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::shaders::{self, Kernel};
use crate::error::Result;
use crate::LstmConfig;

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

/// Compiled pipelines for one device, shared by every engine built with
/// [`Lstm::with_cache`](super::Lstm::with_cache), which runs on the cache's device: engines whose
/// configurations specialise the kernels the same way (activations, clip, input_forget,
/// peepholes, projection) reuse them. There is no global cache; an application keeps one per
/// device.
pub struct PipelineCache {
    device: wgpu::Device,
    entries: Mutex<HashMap<SpecialisationKey, Arc<Pipelines>>>,
}

/// The step kernel's pipeline constants, f64 values as bits.
type SpecialisationKey = Vec<(&'static str, u64)>;

impl PipelineCache {
    pub fn new(device: &wgpu::Device) -> Self {
        PipelineCache {
            device: device.clone(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many specialisations have been compiled.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device the pipelines are compiled for (engines built from this cache run on it).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub(crate) fn get(&self, config: &LstmConfig) -> Result<Arc<Pipelines>> {
        let device = &self.device;
        let key: SpecialisationKey = shaders::step_constants(config)
            .into_iter()
            .map(|(name, value)| (name, value.to_bits()))
            .collect();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = entries.get(&key) {
            return Ok(p.clone());
        }
        let pipelines = Arc::new(super::capture(device, "building pipelines", || {
            Pipelines::new(device, config)
        })?);
        entries.insert(key, pipelines.clone());
        Ok(pipelines)
    }
}
