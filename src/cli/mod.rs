//! Command-line interface: argument parsing and the subcommands `info`, `run` and `demo`.

mod bench;
mod conform;
mod demo;
mod info;
mod progress;
mod report;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use wgpu_lstm::gpu::{AdapterRequest, PipelineCache};
use wgpu_lstm::{GpuContext, Lstm, LstmConfig, LstmForward, LstmWeights, Output, Result, State, Tensor};

#[derive(Parser)]
#[command(
    name = "wgpu-lstm",
    version,
    about = "LSTM networks on any GPU wgpu reaches, checked against a CPU reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter wgpu finds and say which one would be used.
    Info(info::InfoArgs),
    /// Run a forward on weights and inputs from files and write y, h_n and c_n as .npy.
    Run(run::RunArgs),
    /// Run a random LSTM on the GPU and the CPU reference and compare: time and max difference.
    Demo(demo::DemoArgs),
    /// Time forwards over a sweep of shapes, with the CPU reference and the structure of a forward.
    Bench(bench::BenchArgs),
    /// Set bench reports (JSON) side by side, and plot them.
    Report(report::ReportArgs),
    /// Randomized GPU-vs-CPU conformance cases over every feature; exits non-zero on a failure.
    Conform(conform::ConformArgs),
}

/// A wgpu backend, as flags name them.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendArg {
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl BackendArg {
    fn backends(self) -> wgpu::Backends {
        match self {
            BackendArg::Vulkan => wgpu::Backends::VULKAN,
            BackendArg::Metal => wgpu::Backends::METAL,
            BackendArg::Dx12 => wgpu::Backends::DX12,
            BackendArg::Gl => wgpu::Backends::GL,
        }
    }
}

/// Adapter choice; flags win over `WGPU_BACKEND` / `WGPU_ADAPTER_NAME`.
#[derive(Args, Clone, Debug)]
pub struct AdapterArgs {
    /// Use only this backend (default: WGPU_BACKEND, else all).
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// Use the adapter whose name contains this, case-insensitively (default: WGPU_ADAPTER_NAME).
    #[arg(long)]
    adapter: Option<String>,
}

impl AdapterArgs {
    pub fn request(&self) -> AdapterRequest {
        AdapterRequest {
            backends: self.backend.map(BackendArg::backends),
            name: self.adapter.clone(),
        }
        .or(AdapterRequest::from_env())
    }
}

/// Where a forward runs.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DeviceArg {
    /// The GPU engine on the chosen adapter.
    Gpu,
    /// The CPU reference.
    Cpu,
}

/// `--tune-cache FILE`: where the autotune's choices are kept between runs.
#[derive(Args)]
pub struct TuneCacheArgs {
    /// Keep the autotune's choices in this JSON file: load the ones made earlier on this adapter
    /// and driver (skipping their timings), save them with any new ones afterwards.
    #[arg(long, value_name = "FILE")]
    tune_cache: Option<PathBuf>,
}

impl TuneCacheArgs {
    pub fn load(&self, cache: &PipelineCache) -> Result<()> {
        if let Some(path) = &self.tune_cache {
            let n = cache.load_tuning(path)?;
            eprintln!("tune cache: {n} choices for this adapter in {}", path.display());
        }
        Ok(())
    }

    pub fn save(&self, cache: &PipelineCache) -> Result<()> {
        match &self.tune_cache {
            Some(path) => cache.save_tuning(path),
            None => Ok(()),
        }
    }
}

/// The GPU engine on the adapter the flags choose, with its device.
pub struct GpuEngine {
    pub ctx: GpuContext,
    pub lstm: Lstm,
}

impl GpuEngine {
    /// Open the adapter, load the tune cache (if any) and build the engine.
    pub fn open(
        adapter: &AdapterArgs,
        tune: Option<&TuneCacheArgs>,
        config: &LstmConfig,
        weights: &LstmWeights,
    ) -> Result<Self> {
        let ctx = GpuContext::with_request(&adapter.request())?;
        if let Some(tune) = tune {
            tune.load(ctx.pipeline_cache())?;
        }
        let lstm = Lstm::with_cache(ctx.pipeline_cache(), &ctx.queue, config, weights)?;
        Ok(GpuEngine { ctx, lstm })
    }

    pub fn name(&self) -> String {
        format!("GPU: {}", self.ctx.describe())
    }
}

/// A whole forward on either engine, or the same fed through its streams `chunk` steps at a time.
pub fn forward<E: LstmForward>(
    engine: &E,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
    chunk: Option<usize>,
) -> Result<Output> {
    match chunk {
        Some(chunk) => engine.forward_chunked(input, initial, seq_lens, chunk),
        None => engine.forward_with_lens(input, initial, seq_lens),
    }
}

/// `GEMM,STEP[,SCHEDULE]` as `bench --variants` and `conform --variants` take it:
/// `tiled|regblock`, `b1|b2|b4|b8|b8u2|splitk`, `wavefront|layers` (default wavefront, which
/// applies where the model allows it).
pub fn parse_variants(text: &str) -> Result<wgpu_lstm::gpu::Variants> {
    use wgpu_lstm::gpu::{GemmVariant, Schedule, StepVariant, Variants};
    let bad = || {
        wgpu_lstm::Error::invalid(
            "--variants",
            format!(
                "'{text}': expected GEMM,STEP[,SCHEDULE] with GEMM tiled or regblock, STEP b1, b2, b4, b8, b8u2, splitk, seq or seqres and SCHEDULE wavefront or layers"
            ),
        )
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let (gemm, step, schedule) = match parts[..] {
        [gemm, step] => (gemm, step, "wavefront"),
        [gemm, step, schedule] => (gemm, step, schedule),
        _ => return Err(bad()),
    };
    let gemm = match gemm {
        "tiled" => GemmVariant::Tiled,
        "regblock" => GemmVariant::RegisterBlocked,
        _ => return Err(bad()),
    };
    let schedule = match schedule {
        "wavefront" => Schedule::Wavefront,
        "layers" => Schedule::Layers,
        _ => return Err(bad()),
    };
    let step = match step {
        "b1" => StepVariant::Batch1,
        "b2" => StepVariant::Batch2,
        "b4" => StepVariant::Batch4,
        "b8" => StepVariant::Batch8,
        "b8u2" => StepVariant::Batch8Units2,
        "splitk" => StepVariant::SplitK,
        "seq" | "sequence" => StepVariant::Sequence,
        "seqres" | "sequence-resident" => StepVariant::SequenceResident,
        _ => return Err(bad()),
    };
    Ok(Variants { gemm, step, schedule })
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::info(&args),
        Command::Run(args) => run::run(&args),
        Command::Demo(args) => demo::demo(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Report(args) => report::report(&args),
        Command::Conform(args) => conform::conform(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
