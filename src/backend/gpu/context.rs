//! `GpuContext`: an owned instance, adapter, device and queue for tests, the CLI and examples,
//! chosen by flags or the `WGPU_BACKEND` / `WGPU_ADAPTER_NAME` environment variables.
//! Applications with their own device skip this and hand `&Device`/`&Queue` to the engine.

use std::sync::Arc;

use super::cache::PipelineCache;
use crate::error::{Error, Result};

/// What adapter to use. Empty fields mean "any".
#[derive(Clone, Debug, Default)]
pub struct AdapterRequest {
    /// Restrict to these backends.
    pub backends: Option<wgpu::Backends>,
    /// Case-insensitive substring of the adapter name.
    pub name: Option<String>,
}

impl AdapterRequest {
    /// From `WGPU_BACKEND` (e.g. `vulkan`, `gl`, `metal`, `dx12`) and `WGPU_ADAPTER_NAME`.
    pub fn from_env() -> Self {
        AdapterRequest {
            backends: wgpu::Backends::from_env(),
            name: std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.is_empty()),
        }
    }

    /// Fill fields left empty here from `other` (flags first, then environment).
    pub fn or(self, other: AdapterRequest) -> Self {
        AdapterRequest {
            backends: self.backends.or(other.backends),
            name: self.name.or(other.name),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.backends {
            parts.push(format!("backend {b:?}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("name containing '{n}'"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" with {}", parts.join(" and "))
        }
    }
}

/// A wgpu instance and every adapter it sees on the requested backends, with compute support.
#[cfg(not(target_arch = "wasm32"))]
pub fn enumerate_adapters(backends: Option<wgpu::Backends>) -> (wgpu::Instance, Vec<wgpu::Adapter>) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends.unwrap_or(wgpu::Backends::all());
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(desc_backends(backends)));
    (instance, adapters)
}

#[cfg(not(target_arch = "wasm32"))]
fn desc_backends(backends: Option<wgpu::Backends>) -> wgpu::Backends {
    backends.unwrap_or(wgpu::Backends::all())
}

/// Whether the adapter can run compute shaders at all.
pub fn supports_compute(adapter: &wgpu::Adapter) -> bool {
    adapter
        .get_downlevel_capabilities()
        .flags
        .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
}

/// Preference order: hardware before software, then Vulkan, Metal, DX12, GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let device = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan => 0,
        wgpu::Backend::Metal => 1,
        wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 3,
        _ => 4,
    };
    (device, backend)
}

/// Index of the adapter `request` picks among `adapters`, if any.
pub fn choose_adapter(adapters: &[wgpu::Adapter], request: &AdapterRequest) -> Option<usize> {
    let wanted = request.name.as_deref().map(str::to_lowercase);
    adapters
        .iter()
        .enumerate()
        .filter(|(_, a)| supports_compute(a))
        .filter(|(_, a)| {
            wanted
                .as_deref()
                .is_none_or(|w| a.get_info().name.to_lowercase().contains(w))
        })
        .min_by_key(|(_, a)| rank(&a.get_info()))
        .map(|(i, _)| i)
}

/// An owned device on the chosen adapter, with the pipeline cache its engines share.
pub struct GpuContext {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pipelines: PipelineCache,
}

impl GpuContext {
    /// The adapter chosen by `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`, or the best one found.
    /// (On the web: [`GpuContext::new_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        Self::with_request(&AdapterRequest::from_env())
    }

    /// The adapter chosen by `request`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_request(request: &AdapterRequest) -> Result<Self> {
        let (instance, mut adapters) = enumerate_adapters(request.backends);
        let index = choose_adapter(&adapters, request).ok_or_else(|| Error::NoAdapter {
            wanted: request.describe(),
            hint: "install a software driver (Debian: apt-get install mesa-vulkan-drivers for \
                   Vulkan, libegl-mesa0 for GL), check WGPU_BACKEND/WGPU_ADAPTER_NAME, or use \
                   --device cpu",
        })?;
        let adapter = adapters.swap_remove(index);
        pollster::block_on(Self::open(instance, adapter))
    }

    /// The adapter WebGPU offers, without blocking: how a page opens a device. (Natively: the
    /// adapter wgpu prefers, as `request_adapter` picks it.)
    pub async fn new_async() -> Result<Self> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if cfg!(target_arch = "wasm32") {
            // WebGL has no compute shaders: WebGPU or nothing.
            desc.backends = wgpu::Backends::BROWSER_WEBGPU;
        }
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .ok()
            .filter(supports_compute)
            .ok_or_else(|| Error::NoAdapter {
                wanted: String::new(),
                hint: "this browser offers no WebGPU adapter (Chrome or Edge 113+, Safari 26+, \
                       Firefox 141+; on Linux Chrome needs --enable-unsafe-webgpu)",
            })?;
        Self::open(instance, adapter).await
    }

    async fn open(instance: wgpu::Instance, adapter: wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-lstm"),
                // Timestamps let `bench` and the autotune time on the GPU; subgroups speed up the
                // register-resident sequence kernel; shader-f16 reads f16 weights natively. All
                // are optional.
                required_features: adapter.features()
                    & (wgpu::Features::TIMESTAMP_QUERY
                        | wgpu::Features::SUBGROUP
                        | wgpu::Features::SHADER_F16),
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::DeviceRequest {
                adapter: info.name.clone(),
                source: e,
            })?;
        // Everything the engine does runs inside error scopes; anything else is logged, not panicked.
        device.on_uncaptured_error(Arc::new(|e| log::error!("uncaptured wgpu error: {e}")));
        log::info!("using adapter {} ({:?})", info.name, info.backend);
        Ok(GpuContext {
            pipelines: PipelineCache::new(&device),
            instance,
            adapter,
            device,
            queue,
        })
    }

    /// Compiled pipelines and autotune choices for this device, for `Lstm::with_cache`.
    pub fn pipeline_cache(&self) -> &PipelineCache {
        &self.pipelines
    }

    pub fn adapter_info(&self) -> wgpu::AdapterInfo {
        self.adapter.get_info()
    }

    /// One line naming the adapter: name, backend, type and driver.
    pub fn describe(&self) -> String {
        describe_adapter(&self.adapter_info())
    }
}

/// "name (backend, type, driver info)".
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{} ({:?}, {:?}{})",
        // Browsers do not name their WebGPU adapters to wgpu.
        if info.name.is_empty() {
            "unnamed adapter"
        } else {
            &info.name
        },
        info.backend,
        info.device_type,
        if driver.is_empty() {
            String::new()
        } else {
            format!(", {driver}")
        }
    )
}
