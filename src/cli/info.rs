//! `wgpu-lstm info`: every adapter wgpu finds, the limits that matter here, and the one chosen.

use std::process::ExitCode;

use clap::Args;

use super::AdapterArgs;
use wgpu_lstm::gpu::{choose_adapter, describe_adapter, enumerate_adapters, supports_compute};
use wgpu_lstm::Result;

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
}

pub fn info(args: &InfoArgs) -> Result<ExitCode> {
    let request = args.adapter.request();
    let (_instance, adapters) = enumerate_adapters(None);
    if adapters.is_empty() {
        println!("no adapters found");
    }
    for (i, adapter) in adapters.iter().enumerate() {
        let info = adapter.get_info();
        let l = adapter.limits();
        println!("[{i}] {}", describe_adapter(&info));
        let features = adapter.features();
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!(
            "    compute shaders: {}  timestamp queries: {}  subgroups: {} (min size {})  shader-f16: {}",
            yes(supports_compute(adapter)),
            yes(features.contains(wgpu::Features::TIMESTAMP_QUERY)),
            yes(features.contains(wgpu::Features::SUBGROUP)),
            info.subgroup_min_size,
            yes(features.contains(wgpu::Features::SHADER_F16)),
        );
        println!(
            "    max_storage_buffer_binding_size {}  max_buffer_size {}  max_storage_buffers_per_shader_stage {}",
            l.max_storage_buffer_binding_size, l.max_buffer_size, l.max_storage_buffers_per_shader_stage
        );
        println!(
            "    max_compute_workgroups_per_dimension {}  max_compute_invocations_per_workgroup {}  max_compute_workgroup_storage_size {}",
            l.max_compute_workgroups_per_dimension,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size
        );
    }
    let filtered: Vec<wgpu::Adapter> = match request.backends {
        Some(b) => adapters
            .into_iter()
            .filter(|a| b.contains(a.get_info().backend.into()))
            .collect(),
        None => adapters,
    };
    match choose_adapter(&filtered, &request) {
        Some(i) => println!("selected: {}", describe_adapter(&filtered[i].get_info())),
        None => println!(
            "selected: none (no adapter with compute shaders matches; use --device cpu, or install a software driver such as mesa-vulkan-drivers)"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
