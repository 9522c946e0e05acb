//! Compiled pipelines of one device, keyed by (kernel, pipeline constants) as candle keys its
//! pipelines, and the explicit bind-group layouts they follow: kernels with the same bindings
//! (every step variant) share one layout, so one bind group serves them all.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::plan::Plan;
use super::scope::capture;
use super::shaders::{self, BindingKind, Kernel, KernelRef, WeightFormat, SHADER_DIR_VARIABLE};
use crate::cell::Cell;
use crate::config::LstmConfig;
use crate::error::Result;

/// A kernel specialised by its pipeline constants (f64 values as bits).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PipelineKey {
    kernel: &'static str,
    constants: Vec<(&'static str, u64)>,
}

/// Every pipeline compiled on one device.
pub(crate) struct Pipelines {
    device: wgpu::Device,
    layouts: Mutex<HashMap<(&'static [BindingKind], WeightFormat), wgpu::BindGroupLayout>>,
    compiled: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    /// The WGSL files of every kernel compiled so far.
    files: Mutex<BTreeSet<&'static str>>,
    /// Where the WGSL files are read from instead of the built-in sources ([`SHADER_DIR_VARIABLE`]).
    shader_dir: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        let shader_dir = std::env::var_os(SHADER_DIR_VARIABLE).map(PathBuf::from);
        if let Some(dir) = &shader_dir {
            log::warn!(
                "kernels are compiled from the WGSL files in {} ({SHADER_DIR_VARIABLE}), not the built-in ones",
                dir.display()
            );
        }
        Pipelines {
            device: device.clone(),
            layouts: Mutex::default(),
            compiled: Mutex::default(),
            files: Mutex::default(),
            shader_dir,
        }
    }

    /// The WGSL files (relative to `shaders/`) of every kernel compiled so far.
    pub fn files(&self) -> BTreeSet<&'static str> {
        lock(&self.files).clone()
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// How many pipelines have been compiled.
    pub fn len(&self) -> usize {
        lock(&self.compiled).len()
    }

    /// The bind-group layout of `kernel` (shared by every kernel with the same bindings and
    /// weight format).
    pub fn layout(&self, kernel: &Kernel) -> wgpu::BindGroupLayout {
        lock(&self.layouts)
            .entry((kernel.bindings, kernel.format))
            .or_insert_with(|| {
                self.device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(kernel.name),
                        entries: &kernel.layout_entries(),
                    })
            })
            .clone()
    }

    /// The pipeline of `kernel` with these constants, compiled the first time it is asked for.
    pub fn get(
        &self,
        kernel: &'static Kernel,
        constants: &[(&'static str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let key = PipelineKey {
            kernel: kernel.name,
            constants: constants.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
        };
        if let Some(p) = lock(&self.compiled).get(&key) {
            return Ok(p.clone());
        }
        let source = shaders::source(kernel, self.shader_dir.as_deref())?;
        let layout = self.layout(kernel);
        let pipeline = capture(&self.device, "building pipelines", || {
            self.compile(kernel, source, &layout, constants)
        })?;
        lock(&self.files).extend(kernel.files);
        Ok(lock(&self.compiled).entry(key).or_insert(pipeline).clone())
    }

    fn compile(
        &self,
        kernel: &Kernel,
        source: Cow<'static, str>,
        layout: &wgpu::BindGroupLayout,
        constants: &[(&str, f64)],
    ) -> wgpu::ComputePipeline {
        let device = &self.device;
        let descriptor = wgpu::ShaderModuleDescriptor {
            label: Some(kernel.name),
            source: wgpu::ShaderSource::Wgsl(source),
        };
        // SAFETY: every loop in these kernels is bounded by sizes from a uniform block, so the
        // loop-termination counters wgpu would inject (which cost a branch per iteration of the
        // inner loops) are not needed. Bounds checks on buffer accesses stay on.
        let checks = wgpu::ShaderRuntimeChecks {
            force_loop_bounding: false,
            ..wgpu::ShaderRuntimeChecks::checked()
        };
        let module = unsafe { device.create_shader_module_trusted(descriptor, checks) };
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(kernel.name),
            bind_group_layouts: &[Some(layout)],
            immediate_size: 0,
        });
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(shaders::ENTRY_POINT),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                // Every kernel writes its workgroup memory before a barrier and reads it after,
                // so the zeroing wgpu would add (slow to compile on GL) is not needed.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        })
    }
}

/// A bind group over `resources`, one per binding in order.
pub(crate) fn bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    label: &'static str,
    resources: &[wgpu::BindingResource<'_>],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = resources
        .iter()
        .enumerate()
        .map(|(i, resource)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: resource.clone(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// The pipelines of one engine: its configuration's gate options applied over the device's
/// store.
pub(crate) struct EngineKernels {
    store: Arc<Pipelines>,
    gate_options: Vec<(&'static str, f64)>,
    /// The device's smallest subgroup, where it has subgroup operations.
    subgroups: Option<u32>,
    /// P, for kernels unrolled to it.
    out_size: usize,
    /// The larger of H and P, which picks the register-resident kernel's size.
    width: usize,
    cell: Cell,
    format: WeightFormat,
}

/// The pipelines a plan dispatches, resolved before recording.
pub(crate) struct Resolved(Vec<(KernelRef, wgpu::ComputePipeline)>);

impl Resolved {
    pub fn get(&self, kernel: KernelRef) -> &wgpu::ComputePipeline {
        &self
            .0
            .iter()
            .find(|(k, _)| *k == kernel)
            .expect("resolved for this plan")
            .1
    }
}

impl EngineKernels {
    pub fn new(store: Arc<Pipelines>, config: &LstmConfig, format: WeightFormat) -> Self {
        let device = &store.device;
        let subgroups = device
            .features()
            .contains(wgpu::Features::SUBGROUP)
            .then(|| device.adapter_info().subgroup_min_size);
        EngineKernels {
            store,
            gate_options: shaders::gate_option_constants(config),
            subgroups,
            out_size: config.output_size(),
            width: config.hidden_size.max(config.output_size()),
            cell: config.cell,
            format,
        }
    }

    /// The pipeline of a kernel, with the variant's constants and, for steps, the gate options.
    pub fn get(&self, kernel: KernelRef) -> Result<wgpu::ComputePipeline> {
        let mut constants = kernel.variant_constants(self.out_size);
        if kernel.takes_gate_options() {
            constants.extend(&self.gate_options);
        }
        self.store.get(
            kernel.kernel(self.cell, self.format, self.subgroups, self.width),
            &constants,
        )
    }

    pub fn layout(&self, kernel: KernelRef) -> wgpu::BindGroupLayout {
        self.store
            .layout(kernel.kernel(self.cell, self.format, self.subgroups, self.width))
    }

    pub fn store(&self) -> &Pipelines {
        &self.store
    }

    /// Every pipeline `plan` dispatches (compiled now if need be).
    pub fn resolve(&self, plan: &Plan) -> Result<Resolved> {
        plan.kernels()
            .into_iter()
            .map(|k| Ok((k, self.get(k)?)))
            .collect::<Result<_>>()
            .map(Resolved)
    }
}
