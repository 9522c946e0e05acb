//! `wgpu-lstm bench`: time forwards over a sweep of shapes on one adapter, next to the CPU
//! reference, with the structure of each forward; print a table and optionally write JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::progress;
use super::run::CellArg;
use super::{AdapterArgs, PrecisionArg, TuneCacheArgs};
use wgpu_lstm::bench::{self, AdapterReport, BenchReport, Machine, Settings, Shape, ShapeResult};
use wgpu_lstm::gpu::Variants;
use wgpu_lstm::{Cell, Error, GpuContext, Result};

#[derive(Args)]
pub struct BenchArgs {
    /// The recurrent cell (a GRU as PyTorch's nn.GRU computes it, linear_before_reset = 1).
    #[arg(long, value_enum, default_value = "lstm")]
    cell: CellArg,
    /// B: batch sizes (a list makes a sweep).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8])]
    batch: Vec<usize>,
    /// T: sequence lengths.
    #[arg(long, value_delimiter = ',', default_values_t = [50usize])]
    seq: Vec<usize>,
    /// I: input sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [64usize])]
    input: Vec<usize>,
    /// H: hidden sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 128])]
    hidden: Vec<usize>,
    /// L: layer counts.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize])]
    layers: Vec<usize>,
    /// Bidirectional layers.
    #[arg(long)]
    bidirectional: bool,
    /// How the GPU stores the weights, one or several side by side (`f32,f16,int8`); f16 and
    /// int8 also report the error against f32 weights.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [PrecisionArg::F32])]
    weights_precision: Vec<PrecisionArg>,
    /// Untimed forwards per shape first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed forwards per shape.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    #[command(flatten)]
    adapter: AdapterArgs,
    #[command(flatten)]
    tune: TuneCacheArgs,
    /// Fix the kernel variants instead of autotuning them, e.g. `regblock,b4` (see `conform
    /// --help` for the names; an optional third part, wavefront (the default, where the model
    /// allows it) or layers, picks how stacked layers are scheduled).
    #[arg(long, value_name = "GEMM,STEP[,SCHEDULE]")]
    variants: Option<String>,
    /// Time every shape with each kernel combination that runs every variant once (the set
    /// `conform --all-variants` uses) that applies to it, one result each.
    #[arg(long, conflicts_with = "variants")]
    all_variants: bool,
    /// Time training steps instead of forwards: forward with its tape, backward, and an Adam
    /// update (with gradient clipping) of the resident weights, per batch; the CPU column is the
    /// f64 reference's forward and backward, the error that of the gradients.
    #[arg(long, conflicts_with_all = ["variants", "all_variants", "json"])]
    train: bool,
    /// Time a stream pool instead: one step over N open streams, one timestep each (a 32 ms
    /// audio chunk), for each N listed, on Silero VAD's shape (1 layer, I = H = 128) and the
    /// default one (I = H = 64): p50 and p99 latency with upload and readback, the largest N
    /// whose p99 stays within 32 ms, a step over a tenth of the largest pool against a pool of
    /// that tenth and against fixed slots, and that tenth spread over the pool with its states
    /// moved by copies and by the index kernel.
    #[arg(long, value_delimiter = ',', value_name = "N,N,..", num_args = 0..,
          default_missing_value = "1,10,100,1000,10000",
          conflicts_with_all = ["variants", "all_variants", "json", "train"])]
    streams: Option<Vec<usize>>,
    /// With --streams: also plot the step latency against N (p50 and p99 per shape, log-log) as
    /// an SVG.
    #[arg(long, value_name = "FILE.svg", requires = "streams")]
    plot: Option<PathBuf>,
    /// A Python with onnxruntime and onnx, which times onnxruntime's CPU kernel of the same node
    /// in the same run, beside each one-layer shape (the peer scripts/peers/ort_cell_time.py,
    /// built in); with --streams, what users run today (scripts/peers/ort_streams_time.py): the
    /// LSTM once per stream per tick and batched over all N, beside the pool.
    #[arg(long, value_name = "PYTHON", conflicts_with = "train")]
    ort_python: Option<PathBuf>,
    /// Also write the report as JSON (schema `wgpu-lstm-bench/2`, docs/bench-report.schema.json).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn bench(args: &BenchArgs) -> Result<ExitCode> {
    if args.reps == 0 {
        return Err(Error::invalid("--reps", "must be at least 1"));
    }
    let mut shapes = Vec::new();
    for &batch in &args.batch {
        for &seq in &args.seq {
            for &input in &args.input {
                for &hidden in &args.hidden {
                    for &layers in &args.layers {
                        if [batch, seq, input, hidden, layers].contains(&0) {
                            return Err(Error::invalid("bench", "every size must be at least 1"));
                        }
                        for precision in &args.weights_precision {
                            shapes.push(Shape {
                                batch,
                                seq,
                                input,
                                hidden,
                                layers,
                                bidirectional: args.bidirectional,
                                weights_precision: precision.precision().name().into(),
                                cell: args.cell.cell().name().into(),
                            });
                        }
                    }
                }
            }
        }
    }
    if args.ort_python.is_some() && args.streams.is_some() && args.cell.cell() != Cell::Lstm {
        return Err(Error::invalid(
            "--ort-python",
            "the onnxruntime peer of --streams times the LSTM only",
        ));
    }
    let ctx = GpuContext::with_request(&args.adapter.request())?;
    let info = ctx.adapter_info();
    println!("adapter: {}", ctx.describe());
    if let Some(counts) = &args.streams {
        if counts.is_empty() || counts.contains(&0) {
            return Err(Error::invalid("--streams", "list counts of at least 1"));
        }
        args.tune.load(ctx.pipeline_cache())?;
        let settings = super::bench_streams::StreamSettings {
            counts,
            warmup: args.warmup,
            reps: args.reps,
            plot: args.plot.as_deref(),
            ort_python: args.ort_python.as_deref(),
        };
        let done = super::bench_streams::bench_streams(&ctx, args.cell.cell(), &settings);
        args.tune.save(ctx.pipeline_cache())?;
        return done;
    }
    if args.train {
        return bench_train(args, &ctx, &shapes);
    }
    args.tune.load(ctx.pipeline_cache())?;
    let runs: Vec<Option<Variants>> = if args.all_variants {
        Variants::all().into_iter().map(Some).collect()
    } else {
        vec![args.variants.as_deref().map(super::parse_variants).transpose()?]
    };
    let bar = progress::bar(
        (shapes.len() * runs.len() * (args.warmup + args.reps + 1)) as u64,
        "bench",
    );
    let mut results = Vec::new();
    for shape in &shapes {
        let config = shape.config()?;
        for variants in &runs {
            // A combination a shape cannot run is another's run, which is already listed.
            if variants.is_some_and(|v| args.all_variants && v.effective(&config) != v) {
                bar.inc((args.warmup + args.reps + 1) as u64);
                continue;
            }
            let settings = Settings {
                warmup: args.warmup,
                reps: args.reps,
                variants: *variants,
            };
            bar.set_message(shape.label());
            results.push(bench::time_shape(&ctx, shape, &settings, &|| bar.inc(1))?);
        }
    }
    bar.finish_and_clear();
    args.tune.save(ctx.pipeline_cache())?;
    if let Some(python) = &args.ort_python {
        for r in &mut results {
            if r.shape.layers == 1 {
                r.ort_ms = Some(ort_time(python, &r.shape)?);
            }
        }
    }
    print_table(
        &results,
        ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY),
    );
    if let Some(path) = &args.json {
        let report = BenchReport::new(
            Machine::detect(),
            AdapterReport::of(&info),
            args.warmup,
            args.reps,
            results,
        );
        report.save(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench --train`: each shape timed as training steps.
fn bench_train(args: &BenchArgs, ctx: &GpuContext, shapes: &[Shape]) -> Result<ExitCode> {
    let bar = progress::bar(
        (shapes.len() * (args.warmup + args.reps + 1)) as u64,
        "bench --train",
    );
    let mut results = Vec::new();
    for shape in shapes {
        bar.set_message(shape.label());
        results.push(bench::time_train_shape(
            ctx,
            shape,
            args.warmup,
            args.reps,
            &|| bar.inc(1),
        )?);
    }
    bar.finish_and_clear();
    println!(
        "{:<28} {:>12} {:>10} {:>10} {:>10} {:>13} {:>13} {:>7} {:>9}",
        "shape", "median ms", "min ms", "max ms", "CPU ms", "fwd d/s/rb", "bwd d/s/rb", "opt d", "grad err"
    );
    for r in &results {
        println!(
            "{:<28} {:>12.3} {:>10.3} {:>10.3} {:>10.1} {:>13} {:>13} {:>7} {:>9.1e}",
            r.shape.label(),
            r.step_ms.median,
            r.step_ms.min,
            r.step_ms.max,
            r.cpu_ms,
            format!(
                "{}/{}/{}",
                r.forward.dispatches, r.forward.submits, r.forward.readbacks
            ),
            format!(
                "{}/{}/{}",
                r.backward.dispatches, r.backward.submits, r.backward.readbacks
            ),
            r.optimizer_dispatches,
            r.gradient_error
        );
    }
    println!("median ms: one training step (forward with its tape, backward, Adam); grad err: relative to the largest gradient");
    Ok(ExitCode::SUCCESS)
}

/// The onnxruntime peer of the plain bench (`scripts/peers/ort_cell_time.py`), built in so that
/// `--ort-python` runs it from any directory.
const ORT_CELL_SCRIPT: &str = include_str!("../../scripts/peers/ort_cell_time.py");

/// Median ms of onnxruntime's CPU forward of the one-layer `shape`'s node.
fn ort_time(python: &Path, shape: &Shape) -> Result<f64> {
    let mut args = vec![shape.cell.clone()];
    args.extend([shape.batch, shape.seq, shape.input, shape.hidden].map(|n| n.to_string()));
    if shape.bidirectional {
        args.push("bidirectional".into());
    }
    let stdout = super::bench_streams::run_peer(python, ORT_CELL_SCRIPT, &args)?;
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("ort_ms ")?.trim().parse::<f64>().ok())
        .ok_or_else(|| {
            Error::invalid(
                "--ort-python",
                format!("the onnxruntime peer printed no time:\n{stdout}"),
            )
        })
}

fn print_table(results: &[ShapeResult], timestamps: bool) {
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>9} {:>9} {:>10} {:>12}  kernels",
        "shape",
        "median ms",
        "min ms",
        "max ms",
        "us/step",
        "GFLOP/s",
        "GPU ms",
        "rec us/d",
        "CPU ms",
        "speedup",
        "max err",
        "tune ms",
        "W KiB",
        "W KiB/st",
        "disp/sub/rb"
    );
    for r in results {
        println!(
            "{:<28} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>9.3} {:>9} {:>9.3} {:>10.3} {:>8.2} {:>9.2e} {:>9.1} {:>9.1} {:>10.1} {:>12}  {}",
            r.shape.label(),
            r.forward_ms.median,
            r.forward_ms.min,
            r.forward_ms.max,
            r.us_per_step,
            r.gflops,
            r.gpu_ms.map_or("none".into(), |g| format!("{:.3}", g.median)),
            r.record_us_per_dispatch,
            r.cpu_ms,
            r.speedup,
            r.max_abs_error,
            r.autotune_ms,
            r.weight_bytes as f64 / 1024.0,
            r.weight_bytes_per_step as f64 / 1024.0,
            format!("{}/{}/{}", r.counters.dispatches, r.counters.submits, r.counters.readbacks),
            r.variant
        );
    }
    for r in results {
        if let Some(ort) = r.ort_ms {
            println!(
                "{}: onnxruntime CPU {ort:.3} ms; this forward takes {:.2}× that",
                r.shape.label(),
                r.forward_ms.median / ort
            );
        }
        if !r.autotune_times_ms.is_empty() {
            let timed: Vec<String> = r
                .autotune_times_ms
                .iter()
                .map(|t| format!("{} {:.3}", t.variant, t.ms))
                .collect();
            println!(
                "{}: the autotune timed (ms) {}",
                r.shape.label(),
                timed.join(", ")
            );
        }
        if let Some(e) = r.max_abs_error_vs_f32 {
            println!(
                "{}: max error {e:.2e} against the CPU reference on f32 weights",
                r.shape.label()
            );
        }
    }
    if !timestamps {
        println!("GPU time: none (this adapter has no timestamp queries)");
    }
}
