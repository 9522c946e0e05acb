//! One compute pipeline per kernel, with its explicit bind-group layout, and the cache that
//! shares them between engines on one device.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::shaders::{self, Kernel};
use super::variants::{GemmVariant, Schedule, StepVariant};
use crate::error::Result;
use crate::LstmConfig;

/// A kernel's pipeline and the layout its bind groups must follow.
pub(crate) struct KernelPipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

impl KernelPipeline {
    fn new(device: &wgpu::Device, kernel: &Kernel, constants: &[(&str, f64)]) -> Self {
        Self::with_layout(device, kernel, layout_of(device, kernel), constants)
    }

    /// With a given bind-group layout, so that variants of one kernel accept the same bind groups.
    fn with_layout(
        device: &wgpu::Device,
        kernel: &Kernel,
        layout: wgpu::BindGroupLayout,
        constants: &[(&str, f64)],
    ) -> Self {
        let descriptor = wgpu::ShaderModuleDescriptor {
            label: Some(kernel.name),
            source: wgpu::ShaderSource::Wgsl(kernel.source.into()),
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
                // Every kernel writes its workgroup memory before a barrier and reads it after,
                // so the zeroing wgpu would add (slow to compile on GL) is not needed.
                zero_initialize_workgroup_memory: false,
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
        bind_group(device, &self.layout, label, buffers)
    }
}

fn bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
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
        layout,
        entries: &entries,
    })
}

fn layout_of(device: &wgpu::Device, kernel: &Kernel) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(kernel.name),
        entries: &kernel.layout_entries(),
    })
}

/// Every pipeline the engine records, specialised for one configuration. Variants are compiled
/// the first time they are used.
pub(crate) struct Pipelines {
    device: wgpu::Device,
    step_constants: Vec<(&'static str, f64)>,
    gemm: [OnceLock<KernelPipeline>; 2],
    /// One bind-group layout for every step variant.
    step_layout: wgpu::BindGroupLayout,
    step: [OnceLock<KernelPipeline>; 6],
    /// The step variants compiled for the wavefront (all but split-K).
    wavefront: [OnceLock<KernelPipeline>; 6],
    /// Only with `proj_size`.
    pub output_projection: Option<KernelPipeline>,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device, config: &crate::LstmConfig) -> Self {
        Pipelines {
            device: device.clone(),
            step_constants: shaders::step_constants(config),
            gemm: Default::default(),
            step_layout: layout_of(device, &shaders::STEP),
            step: Default::default(),
            wavefront: Default::default(),
            output_projection: config
                .proj_size
                .map(|_| KernelPipeline::new(device, &shaders::OUTPUT_PROJECTION, &[])),
        }
    }

    /// The input-projection pipeline of a variant.
    pub fn gemm(&self, variant: GemmVariant) -> &KernelPipeline {
        let (slot, kernel) = match variant {
            GemmVariant::Tiled => (&self.gemm[0], &shaders::INPUT_PROJECTION),
            GemmVariant::RegisterBlocked => (&self.gemm[1], &shaders::INPUT_PROJECTION_BLOCKED),
        };
        slot.get_or_init(|| KernelPipeline::new(&self.device, kernel, &[]))
    }

    /// The step pipeline of a variant, for one schedule (split-K runs only layer by layer).
    pub fn step(&self, variant: StepVariant, schedule: Schedule) -> &KernelPipeline {
        let index = StepVariant::ALL
            .iter()
            .position(|&v| v == variant)
            .expect("listed");
        let wavefront = schedule == Schedule::Wavefront;
        assert!(
            !(wavefront && variant == StepVariant::SplitK),
            "split-K has no wavefront kernel"
        );
        let slot = if wavefront {
            &self.wavefront[index]
        } else {
            &self.step[index]
        };
        slot.get_or_init(|| {
            let mut constants = self.step_constants.clone();
            if wavefront {
                constants.push(("WAVEFRONT", 1.0));
            }
            let kernel = match variant {
                StepVariant::SplitK if self.device.features().contains(wgpu::Features::SUBGROUP) => {
                    &shaders::STEP_SPLITK_SUBGROUP
                }
                StepVariant::SplitK => &shaders::STEP_SPLITK,
                _ => {
                    constants.push(("BATCH_BLOCK", variant.batch_block() as f64));
                    constants.push(("UNITS", variant.units() as f64));
                    &shaders::STEP
                }
            };
            KernelPipeline::with_layout(&self.device, kernel, self.step_layout.clone(), &constants)
        })
    }

    /// A bind group for every step pipeline, over `buffers` in binding order.
    pub fn step_bind_group(
        &self,
        device: &wgpu::Device,
        buffers: &[wgpu::BindingResource<'_>],
    ) -> wgpu::BindGroup {
        bind_group(device, &self.step_layout, "step", buffers)
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
    tuning: Arc<Tuning>,
}

/// Kernel variants chosen per shape class on one device, shared by the engines of a cache.
#[derive(Default)]
pub(crate) struct Tuning {
    gemm: Mutex<HashMap<TuneKey, GemmVariant>>,
    step: Mutex<HashMap<TuneKey, (StepVariant, Schedule)>>,
}

/// A shape class the autotune decides for once per device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TuneKey(pub Vec<u64>);

/// The step kernel's pipeline constants, f64 values as bits.
type SpecialisationKey = Vec<(&'static str, u64)>;

impl PipelineCache {
    pub fn new(device: &wgpu::Device) -> Self {
        PipelineCache {
            device: device.clone(),
            entries: Mutex::new(HashMap::new()),
            tuning: Arc::default(),
        }
    }

    /// How many specialisations have been compiled.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn tuning(&self) -> Arc<Tuning> {
        self.tuning.clone()
    }

    /// Add the autotune choices that the file at `path` holds for this device's adapter, driver
    /// and crate version (written by [`PipelineCache::save_tuning`], perhaps by an earlier run),
    /// so engines built from this cache skip those timings; returns how many were loaded. A
    /// missing file holds none; an unreadable or malformed one is an error and loads nothing.
    pub fn load_tuning(&self, path: &std::path::Path) -> Result<usize> {
        super::tuning_file::load(&self.tuning, &self.identity(), path)
    }

    /// Write the choices made so far on this device to `path` (JSON, schema
    /// `wgpu-lstm-tuning/1`), replacing the file's entry for this adapter, driver and crate
    /// version and keeping the others. The file is replaced whole or not at all.
    pub fn save_tuning(&self, path: &std::path::Path) -> Result<()> {
        super::tuning_file::save(&self.tuning, &self.identity(), path)
    }

    fn identity(&self) -> String {
        super::tuning_file::identity(&self.device.adapter_info())
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

impl Tuning {
    /// The GEMM variant chosen for a shape class, deciding with `tune` the first time.
    pub fn gemm(
        &self,
        key: TuneKey,
        tune: impl FnOnce() -> Result<GemmVariant>,
    ) -> Result<(GemmVariant, bool)> {
        choose(&self.gemm, key, tune)
    }

    /// The step variant and schedule chosen for a shape class, deciding with `tune` the first
    /// time; the flag says whether it was tuned now.
    pub fn step(
        &self,
        key: TuneKey,
        tune: impl FnOnce() -> Result<(StepVariant, Schedule)>,
    ) -> Result<((StepVariant, Schedule), bool)> {
        choose(&self.step, key, tune)
    }

    /// Add choices (from a file), replacing any for the same keys.
    pub fn insert(&self, gemm: Vec<(TuneKey, GemmVariant)>, step: Vec<(TuneKey, (StepVariant, Schedule))>) {
        self.gemm.lock().unwrap_or_else(|p| p.into_inner()).extend(gemm);
        self.step.lock().unwrap_or_else(|p| p.into_inner()).extend(step);
    }

    /// Every choice made, sorted by key.
    #[allow(clippy::type_complexity)]
    pub fn entries(
        &self,
    ) -> (
        Vec<(TuneKey, GemmVariant)>,
        Vec<(TuneKey, (StepVariant, Schedule))>,
    ) {
        fn sorted<V: Copy>(choices: &Mutex<HashMap<TuneKey, V>>) -> Vec<(TuneKey, V)> {
            let mut v: Vec<(TuneKey, V)> = choices
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            v.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
            v
        }
        (sorted(&self.gemm), sorted(&self.step))
    }

    /// A step choice already made, if any.
    pub fn known_step(&self, key: &TuneKey) -> Option<(StepVariant, Schedule)> {
        self.step
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
    }
}

/// The cached value for `key`, or `tune`'s (then cached); the flag says whether it was tuned now.
fn choose<V: Copy>(
    choices: &Mutex<HashMap<TuneKey, V>>,
    key: TuneKey,
    tune: impl FnOnce() -> Result<V>,
) -> Result<(V, bool)> {
    if let Some(v) = choices.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok((*v, false));
    }
    let v = tune()?;
    choices.lock().unwrap_or_else(|p| p.into_inner()).insert(key, v);
    Ok((v, true))
}
