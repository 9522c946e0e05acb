//! Command-line interface: argument parsing and the subcommands.

mod bench;
mod bench_streams;
mod conform;
mod conform_training;
mod demo;
mod grad;
mod info;
mod progress;
mod report;
mod run;
mod train_demo;

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
    /// Gradients of a loss given as dL/dy (and dL/dh_n, dL/dc_n) with respect to the weights,
    /// the input and the initial state: grads.safetensors, dx.npy, dh0.npy, dc0.npy.
    Grad(grad::GradArgs),
    /// Learn the adding problem (T = 100) on the GPU until the held-out MSE is below 0.01.
    TrainDemo(train_demo::TrainDemoArgs),
    /// Run a random LSTM on the GPU and the CPU reference and compare: time and max difference.
    Demo(demo::DemoArgs),
    /// Time forwards over a sweep of shapes, with the CPU reference and the structure of a forward.
    Bench(bench::BenchArgs),
    /// Set bench reports (JSON) side by side, and plot them.
    Report(report::ReportArgs),
    /// GPU-vs-CPU conformance over every feature and kernel variant, forward and training
    /// (gradients, optimizers); exits non-zero on a failure.
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

/// How the weights are stored on the GPU.
#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum PrecisionArg {
    #[default]
    F32,
    /// f16 weights, f32 accumulation and state (the CPU reference rounds the weights the same way).
    F16,
    /// int8 weights quantized per output row, f32 accumulation and state (the CPU reference
    /// quantizes the weights the same way).
    Int8,
}

impl PrecisionArg {
    pub fn precision(self) -> wgpu_lstm::Precision {
        match self {
            PrecisionArg::F32 => wgpu_lstm::Precision::F32,
            PrecisionArg::F16 => wgpu_lstm::Precision::F16,
            PrecisionArg::Int8 => wgpu_lstm::Precision::Int8,
        }
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

/// `GEMM,STEP[,SCHEDULE]` as `bench --variants` and `conform --variants` take it: the names the
/// kernels column shows (`gemm-tiled-128x64x16`, `step-splitk-16x1`) or short forms without the
/// `gemm-`/`step-` prefix (`regblock`, `tiled` for the 64×64×16 tiles, `tiled128x64x16`, `b4`,
/// `splitk` for 16×1, `splitk32x2`, `tiled16x64`, `seq`, `seqres`), and `wavefront` (the
/// default, which applies where the model allows it) or `layers`.
pub fn parse_variants(text: &str) -> Result<wgpu_lstm::gpu::Variants> {
    use wgpu_lstm::gpu::{GemmVariant, Schedule, StepVariant, Variants};
    let bad = || {
        wgpu_lstm::Error::invalid(
            "--variants",
            format!(
                "'{text}': expected GEMM,STEP[,SCHEDULE] with GEMM one of {}, STEP one of {} (or short forms \
                 such as regblock, tiled, b4, splitk, seq, seqres) and SCHEDULE wavefront or layers",
                GemmVariant::ALL.map(|v| v.name()).join(", "),
                StepVariant::ALL.map(|v| v.name()).join(", ")
            ),
        )
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let (gemm, step, schedule) = match parts[..] {
        [gemm, step] => (gemm, step, "wavefront"),
        [gemm, step, schedule] => (gemm, step, schedule),
        _ => return Err(bad()),
    };
    // "tiled128x64x16" -> "gemm-tiled-128x64x16", "splitk32x2" -> "step-splitk-32x2".
    let long = |prefix: &str, short: &str| {
        let split = short
            .find(|c: char| c.is_ascii_digit())
            .filter(|_| short.contains('x'));
        match split {
            Some(at) => format!("{prefix}{}-{}", &short[..at], &short[at..]),
            None => format!("{prefix}{short}"),
        }
    };
    let gemm = match gemm {
        "tiled" => GemmVariant::TILED,
        "regblock" => GemmVariant::RegisterBlocked,
        other => GemmVariant::from_name(other)
            .or_else(|| GemmVariant::from_name(&long("gemm-", other)))
            .ok_or_else(bad)?,
    };
    let step = match step {
        "splitk" => StepVariant::SplitK { units: 16, batch: 1 },
        "seq" => StepVariant::Sequence,
        "seqres" => StepVariant::SequenceResident,
        other => StepVariant::from_name(other)
            .or_else(|| StepVariant::from_name(&long("step-", other)))
            .ok_or_else(bad)?,
    };
    let schedule = Schedule::from_name(schedule).ok_or_else(bad)?;
    Ok(Variants { gemm, step, schedule })
}

pub fn main() -> ExitCode {
    // A usage error (an unknown flag, a bad value) is bad input like any other: exit status 1,
    // not the argument parser's 2. Help and version go to stdout with status 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Info(args) => info::info(&args),
        Command::Run(args) => run::run(&args),
        Command::Grad(args) => grad::grad(&args),
        Command::TrainDemo(args) => train_demo::train_demo(&args),
        Command::Demo(args) => demo::demo(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Report(args) => report::report(&args),
        Command::Conform(args) => conform::conform(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, whatever the files named in it hold.
            eprintln!("error: {}", wgpu_lstm::escape_text(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
