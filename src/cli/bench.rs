//! `wgpu-lstm bench`: time forwards over a sweep of shapes on one adapter, next to the CPU
//! reference, with the structure of each forward; print a table and optionally write JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::progress;
use super::report::{AdapterReport, BenchReport, Counters, Machine, Shape, ShapeResult, Spread, SCHEMA};
use super::{AdapterArgs, TuneCacheArgs};
use wgpu_lstm::conform::random_tensor;
use wgpu_lstm::{CpuLstm, Direction, Error, GpuContext, Layout, Lstm, LstmConfig, LstmWeights, Result};

#[derive(Args)]
pub struct BenchArgs {
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
    /// Fix the kernel variants instead of autotuning them, e.g. `regblock,b4` (gemm: tiled or
    /// regblock; step: b1, b2, b4, b8, b8u2 or splitk; an optional third part, wavefront (the
    /// default, where the model allows it) or layers, picks how stacked layers are scheduled).
    #[arg(long, value_name = "GEMM,STEP[,SCHEDULE]")]
    variants: Option<String>,
    /// Also write the report as JSON (schema `wgpu-lstm-bench/1`, docs/bench-report.schema.json).
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
                        shapes.push(Shape {
                            batch,
                            seq,
                            input,
                            hidden,
                            layers,
                            bidirectional: args.bidirectional,
                        });
                    }
                }
            }
        }
    }
    let ctx = GpuContext::with_request(&args.adapter.request())?;
    let info = ctx.adapter_info();
    println!("adapter: {}", ctx.describe());
    args.tune.load(ctx.pipeline_cache())?;
    let bar = progress::bar((shapes.len() * (args.warmup + args.reps + 1)) as u64, "bench");
    let mut results = Vec::new();
    for shape in &shapes {
        bar.set_message(shape.label());
        results.push(bench_shape(&ctx, shape, args, &|| bar.inc(1))?);
    }
    bar.finish_and_clear();
    args.tune.save(ctx.pipeline_cache())?;
    print_table(
        &results,
        ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY),
    );
    if let Some(path) = &args.json {
        let report = BenchReport {
            schema: SCHEMA.into(),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: Machine::detect(),
            adapter: AdapterReport::of(&info),
            warmup: args.warmup,
            reps: args.reps,
            results,
        };
        report.save(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_shape(ctx: &GpuContext, shape: &Shape, args: &BenchArgs, tick: &dyn Fn()) -> Result<ShapeResult> {
    let config = LstmConfig {
        input_size: shape.input,
        hidden_size: shape.hidden,
        num_layers: shape.layers,
        direction: if shape.bidirectional {
            Direction::Bidirectional
        } else {
            Direction::Forward
        },
        layout: Layout::SeqMajor,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 0)?;
    let forced = args.variants.as_deref().map(super::parse_variants).transpose()?;
    let lstm = Lstm::with_variants(ctx.pipeline_cache(), &ctx.queue, &config, &weights, forced)?;
    let x = random_tensor(vec![shape.seq, shape.batch, shape.input], 1.0, 1);
    for _ in 0..args.warmup {
        lstm.forward(&x, None)?;
        tick();
    }
    let (mut wall, mut gpu, mut record) = (Vec::new(), Vec::new(), Vec::new());
    let mut out = None;
    for _ in 0..args.reps {
        let start = Instant::now();
        out = Some(lstm.forward(&x, None)?);
        wall.push(start.elapsed().as_secs_f64() * 1e3);
        let stats = lstm.last_stats();
        record.push(stats.record_ns as f64 / 1e3);
        if let Some(ns) = stats.gpu_ns {
            gpu.push(ns as f64 / 1e6);
        }
        tick();
    }
    let stats = lstm.last_stats();
    let start = Instant::now();
    let reference = CpuLstm::new(&config, &weights)?.forward(&x, None)?;
    let cpu_ms = start.elapsed().as_secs_f64() * 1e3;
    tick();
    let forward_ms = Spread::of(wall);
    let d = config.num_directions();
    let flops: f64 = (0..shape.layers)
        .map(|l| {
            (d * 2 * shape.batch * 4 * shape.hidden * (config.layer_input_size(l) + shape.hidden) * shape.seq)
                as f64
        })
        .sum();
    let record_us = Spread::of(record).median;
    Ok(ShapeResult {
        shape: shape.clone(),
        us_per_step: forward_ms.median * 1e3 / shape.seq as f64,
        gflops: flops / (forward_ms.median * 1e-3) / 1e9,
        gpu_ms: (!gpu.is_empty()).then(|| Spread::of(gpu)),
        record_us,
        record_us_per_dispatch: record_us / stats.dispatches.max(1) as f64,
        cpu_ms,
        speedup: cpu_ms / forward_ms.median,
        max_abs_error: out
            .expect("reps ≥ 1")
            .max_abs_diff(&reference)
            .unwrap_or(f32::INFINITY) as f64,
        counters: Counters {
            dispatches: stats.dispatches,
            submits: stats.submits,
            readbacks: stats.readbacks,
            bytes_uploaded: stats.bytes_uploaded,
            bytes_downloaded: stats.bytes_downloaded,
        },
        variant: stats.variants.to_string(),
        forward_ms,
    })
}

fn print_table(results: &[ShapeResult], timestamps: bool) {
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>12}  kernels",
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
        "disp/sub/rb"
    );
    for r in results {
        println!(
            "{:<24} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>9.3} {:>9} {:>9.3} {:>10.3} {:>8.2} {:>9.2e} {:>12}  {}",
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
            format!("{}/{}/{}", r.counters.dispatches, r.counters.submits, r.counters.readbacks),
            r.variant
        );
    }
    if !timestamps {
        println!("GPU time: none (this adapter has no timestamp queries)");
    }
}
