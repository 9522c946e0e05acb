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
use wgpu_lstm::{CpuLstm, GpuContext, Lstm, LstmConfig, LstmWeights, Output, Result, State, Tensor};

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

/// The engine a command runs: the GPU one or the CPU reference.
pub enum Runner {
    Gpu {
        lstm: Box<Lstm>,
        adapter: String,
        ctx: Box<GpuContext>,
    },
    Cpu(CpuLstm),
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

impl Runner {
    pub fn new(
        device: DeviceArg,
        adapter: &AdapterArgs,
        tune: Option<&TuneCacheArgs>,
        config: &LstmConfig,
        weights: &LstmWeights,
    ) -> Result<Self> {
        Ok(match device {
            DeviceArg::Gpu => {
                let ctx = GpuContext::with_request(&adapter.request())?;
                if let Some(tune) = tune {
                    tune.load(ctx.pipeline_cache())?;
                }
                Runner::Gpu {
                    lstm: Box::new(Lstm::with_cache(
                        ctx.pipeline_cache(),
                        &ctx.queue,
                        config,
                        weights,
                    )?),
                    adapter: ctx.describe(),
                    ctx: Box::new(ctx),
                }
            }
            DeviceArg::Cpu => Runner::Cpu(CpuLstm::new(config, weights)?),
        })
    }

    /// Save the GPU engine's autotune choices where `tune` says (nothing on the CPU).
    pub fn save_tuning(&self, tune: &TuneCacheArgs) -> Result<()> {
        match self {
            Runner::Gpu { ctx, .. } => tune.save(ctx.pipeline_cache()),
            Runner::Cpu(_) => Ok(()),
        }
    }

    pub fn forward(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        match self {
            Runner::Gpu { lstm, .. } => lstm.forward_with_lens(input, initial, seq_lens),
            Runner::Cpu(cpu) => cpu.forward_with_lens(input, initial, seq_lens),
        }
    }

    /// The same forward fed through the streaming API in chunks of `chunk` timesteps.
    pub fn forward_chunked(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        chunk: usize,
        config: &LstmConfig,
    ) -> Result<Output> {
        let dims = wgpu_lstm::forward::check_request(config, input, initial, seq_lens)?;
        if chunk == 0 {
            return Err(wgpu_lstm::Error::invalid("--chunk", "must be at least 1"));
        }
        let axis = config.layout.time_axis();
        let mut host = initial
            .cloned()
            .unwrap_or_else(|| State::zeros(config, dims.batch));
        let gpu_state = match self {
            Runner::Gpu { lstm, .. } => {
                let s = lstm.new_state(dims.batch)?;
                s.set(lstm.queue(), &host)?;
                Some(s)
            }
            Runner::Cpu(_) => None,
        };
        let mut gpu_state = gpu_state;
        let mut ys = Vec::new();
        for start in (0..dims.seq_len).step_by(chunk) {
            let len = chunk.min(dims.seq_len - start);
            let x = input.slice_axis(axis, start, len)?;
            let lens = wgpu_lstm::forward::chunk_lengths(seq_lens, dims.batch, dims.seq_len, start, len);
            ys.push(match (self, gpu_state.as_mut()) {
                (Runner::Gpu { lstm, .. }, Some(state)) => lstm.forward_stream(&x, state, Some(&lens))?,
                (Runner::Cpu(cpu), _) => cpu.forward_stream(&x, &mut host, Some(&lens))?,
                (Runner::Gpu { .. }, None) => unreachable!("GPU runs have a GPU state"),
            });
        }
        if let (Runner::Gpu { lstm, .. }, Some(state)) = (self, &gpu_state) {
            host = lstm.read_state(state)?;
        }
        Ok(Output {
            y: Tensor::concat(axis, &ys)?,
            h_n: host.h,
            c_n: host.c,
        })
    }

    pub fn name(&self) -> String {
        match self {
            Runner::Gpu { adapter, .. } => format!("GPU: {adapter}"),
            Runner::Cpu(_) => "CPU reference".into(),
        }
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
                "'{text}': expected GEMM,STEP[,SCHEDULE] with GEMM tiled or regblock, STEP b1, b2, b4, b8, b8u2 or splitk and SCHEDULE wavefront or layers"
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
