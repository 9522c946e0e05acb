//! Benchmarks for comparing GPUs and drivers: one forward timed per shape next to the CPU
//! reference, with the structure of the forward, and the versioned JSON report that holds a sweep
//! (schema `wgpu-lstm-bench/2`, specified in `docs/bench-report.schema.json`). `wgpu-lstm bench`
//! prints it and `wgpu-lstm report` compares reports (of this schema and of `wgpu-lstm-bench/1`).

// The blocking entry points are native only (see `scope`); on the web their helpers go unused.
#![cfg_attr(target_arch = "wasm32", allow(dead_code, unused_imports))]

use std::path::Path;
use web_time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::gpu::{GpuContext, Lstm, PassStats, Variants};
use crate::error::{Error, Result};
use crate::files::{read_regular, ReadLimits};
use crate::{Cell, CpuLstm, Dims, Direction, Layout, LstmConfig, LstmWeights, Precision, Tensor};

/// The `schema` field of reports this version writes.
pub const SCHEMA: &str = "wgpu-lstm-bench/2";

/// Schemas this version reads: its own, and the first, whose results lack the fields added
/// since (read as their defaults).
pub const READS: [&str; 2] = ["wgpu-lstm-bench/1", SCHEMA];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema: String,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    pub machine: Machine,
    pub adapter: AdapterReport,
    pub warmup: usize,
    pub reps: usize,
    pub results: Vec<ShapeResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub cpu: String,
    pub wgpu_version: String,
    pub wgpu_lstm_version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdapterReport {
    pub name: String,
    pub vendor: u32,
    pub device: u32,
    pub device_type: String,
    pub backend: String,
    pub driver: String,
    pub driver_info: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shape {
    pub batch: usize,
    pub seq: usize,
    pub input: usize,
    pub hidden: usize,
    pub layers: usize,
    pub bidirectional: bool,
    /// "f32", "f16" or "int8" ([`Precision::name`]).
    #[serde(default = "f32_name")]
    pub weights_precision: String,
    /// "lstm", "gru" (as PyTorch's nn.GRU computes it) or "rnn" ([`Cell::name`]).
    #[serde(default = "lstm_name")]
    pub cell: String,
}

fn f32_name() -> String {
    Precision::F32.name().into()
}

fn lstm_name() -> String {
    Cell::Lstm.name().into()
}

impl Shape {
    pub fn label(&self) -> String {
        format!(
            "{}B{} T{} I{} H{} L{}{}{}",
            if self.cell == Cell::Lstm.name() {
                String::new()
            } else {
                format!("{} ", self.cell.to_uppercase())
            },
            self.batch,
            self.seq,
            self.input,
            self.hidden,
            self.layers,
            if self.bidirectional { " bi" } else { "" },
            if self.weights_precision == "f32" {
                String::new()
            } else {
                format!(" {}", self.weights_precision)
            }
        )
    }
}

/// Median, minimum and maximum in milliseconds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        Spread {
            median: values[values.len() / 2],
            min: values[0],
            max: values[values.len() - 1],
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShapeResult {
    pub shape: Shape,
    /// One forward: input upload, every dispatch and the output readback, weights resident.
    pub forward_ms: Spread,
    /// Median forward time divided by T.
    pub us_per_step: f64,
    /// 2·B·4H·(I+H)·T for each layer and direction, over the median forward time.
    pub gflops: f64,
    /// GPU time of the compute work from timestamp queries; `null` where the adapter has none.
    pub gpu_ms: Option<Spread>,
    /// Median host time recording the commands, and per dispatch.
    pub record_us: f64,
    pub record_us_per_dispatch: f64,
    /// The CPU reference on the same input, and the GPU's speedup over it.
    pub cpu_ms: f64,
    pub speedup: f64,
    pub max_abs_error: f64,
    /// With f16 weights, the error against the CPU reference on the full-precision weights.
    #[serde(default)]
    pub max_abs_error_vs_f32: Option<f64>,
    pub counters: PassStats,
    /// Which kernels ran.
    pub variant: String,
    /// Building the engine and tuning this shape class (0 when the choices were cached).
    #[serde(default)]
    pub autotune_ms: f64,
    /// What the autotune timed to choose the step kernels (ms: each step variant per layer, then
    /// each schedule's forward); empty where the kernels were forced or the choice came from a
    /// tune cache without times.
    #[serde(default)]
    pub autotune_times_ms: Vec<TimedVariant>,
    /// onnxruntime's CPU kernel of the same node on the same machine, median ms of a forward
    /// (`bench --ort-python`, one-layer shapes).
    #[serde(default)]
    pub ort_ms: Option<f64>,
    /// Bytes of the resident weights.
    #[serde(default)]
    pub weight_bytes: u64,
    /// Bytes of weights the recurrent kernels read per timestep, as the plan models them.
    #[serde(default)]
    pub weight_bytes_per_step: u64,
}

/// One candidate the autotune timed, and its time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimedVariant {
    pub variant: String,
    pub ms: f64,
}

impl Machine {
    pub fn detect() -> Machine {
        let os_release = std::fs::read_to_string("/etc/os-release").ok().and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        });
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
                })
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Machine {
            os: os_release.unwrap_or_else(|| std::env::consts::OS.to_string()),
            cpu: format!(
                "{cpu} ({} threads)",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            wgpu_version: env!("WGPU_VERSION").to_string(),
            wgpu_lstm_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl AdapterReport {
    pub fn of(info: &wgpu::AdapterInfo) -> AdapterReport {
        AdapterReport {
            name: info.name.clone(),
            vendor: info.vendor,
            device: info.device,
            device_type: format!("{:?}", info.device_type),
            backend: format!("{:?}", info.backend),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
        }
    }

    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.backend)
    }
}

impl BenchReport {
    pub fn load(path: &Path) -> Result<BenchReport> {
        // Reports are megabytes at most; only a regular file is read.
        let bytes = read_regular(path, ReadLimits::with_max_bytes(1 << 30))?;
        let text = String::from_utf8_lossy(&bytes);
        let report: BenchReport = serde_json::from_str(&text).map_err(|e| Error::Format {
            path: path.into(),
            message: format!("not a wgpu-lstm bench report: {e}"),
            source: Some(Box::new(e)),
        })?;
        if !READS.contains(&report.schema.as_str()) {
            return Err(Error::format(
                path,
                format!(
                    "schema '{}', this version reads {}",
                    report.schema,
                    READS.join(" and ")
                ),
            ));
        }
        Ok(report)
    }

    /// Write as pretty JSON, all or nothing.
    /// A report of this schema, created now.
    pub fn new(
        machine: Machine,
        adapter: AdapterReport,
        warmup: usize,
        reps: usize,
        results: Vec<ShapeResult>,
    ) -> BenchReport {
        BenchReport {
            schema: SCHEMA.into(),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine,
            adapter,
            warmup,
            reps,
            results,
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("reports serialize");
        crate::files::write_atomic(path, text.as_bytes())
    }
}

/// How each shape of a sweep is timed.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Untimed forwards first.
    pub warmup: usize,
    /// Timed forwards (at least 1).
    pub reps: usize,
    /// Kernels fixed instead of autotuned.
    pub variants: Option<Variants>,
}

impl Shape {
    /// The configuration this shape benchmarks.
    pub fn config(&self) -> Result<LstmConfig> {
        let weights_precision = Precision::from_name(&self.weights_precision).ok_or_else(|| {
            Error::invalid(
                "weights_precision",
                format!("'{}': expected f32, f16 or int8", self.weights_precision),
            )
        })?;
        let cell: Cell = self.cell.parse()?;
        Ok(LstmConfig {
            cell,
            linear_before_reset: cell == Cell::Gru,
            input_size: self.input,
            hidden_size: self.hidden,
            num_layers: self.layers,
            direction: if self.bidirectional {
                Direction::Bidirectional
            } else {
                Direction::Forward
            },
            layout: Layout::SeqMajor,
            weights_precision,
            ..LstmConfig::default()
        })
    }
}

/// Time one shape on `ctx`'s device: `warmup` untimed forwards, `reps` timed ones (median, min,
/// max), the CPU reference once; `tick` is called after each forward.
#[cfg(not(target_arch = "wasm32"))]
pub fn time_shape(
    ctx: &GpuContext,
    shape: &Shape,
    settings: &Settings,
    tick: &dyn Fn(),
) -> Result<ShapeResult> {
    if settings.reps == 0 {
        return Err(Error::invalid("reps", "must be at least 1"));
    }
    let config = shape.config()?;
    let weights = LstmWeights::random(&config, 0)?;
    let started = Instant::now();
    let lstm = Lstm::with_variants(
        ctx.pipeline_cache(),
        &ctx.queue,
        &config,
        &weights,
        settings.variants,
    )?;
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let dims = Dims {
        seq_len: shape.seq,
        batch: shape.batch,
    };
    // Refused before the input is made where it does not fit the device.
    lstm.check_dims(dims)?;
    let x = Tensor::random(vec![shape.seq, shape.batch, shape.input], 1.0, 1)?;
    // The first forward tunes the shape class (where nothing is cached or forced).
    let mut autotune_ms = build_ms;
    for n in 0..settings.warmup {
        lstm.forward(&x, None)?;
        if n == 0 {
            autotune_ms += lstm.last_stats().autotune_ns as f64 / 1e6;
        }
        tick();
    }
    let (mut wall, mut gpu, mut record) = (Vec::new(), Vec::new(), Vec::new());
    let mut out = None;
    for _ in 0..settings.reps {
        let start = Instant::now();
        out = Some(lstm.forward(&x, None)?);
        wall.push(start.elapsed().as_secs_f64() * 1e3);
        let stats = lstm.last_stats();
        if settings.warmup == 0 && wall.len() == 1 {
            autotune_ms += stats.autotune_ns as f64 / 1e6;
        }
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
    let out = out.expect("reps ≥ 1");
    let max_abs_error_vs_f32 = match config.weights_precision {
        Precision::F32 => None,
        Precision::F16 | Precision::Int8 => {
            let full = LstmConfig {
                weights_precision: Precision::F32,
                ..config.clone()
            };
            let exact = CpuLstm::new(&full, &weights)?.forward(&x, None)?;
            Some(out.max_abs_diff(&exact).unwrap_or(f32::INFINITY) as f64)
        }
    };
    tick();
    let forward_ms = Spread::of(wall);
    let d = config.num_directions();
    let flops: f64 = (0..shape.layers)
        .map(|l| {
            (d * 2
                * shape.batch
                * config.gates()
                * shape.hidden
                * (config.layer_input_size(l) + shape.hidden)
                * shape.seq) as f64
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
        max_abs_error: out.max_abs_diff(&reference).unwrap_or(f32::INFINITY) as f64,
        max_abs_error_vs_f32,
        counters: stats.pass(),
        variant: stats.variants.to_string(),
        autotune_ms,
        autotune_times_ms: lstm
            .autotune_times(dims)
            .unwrap_or_default()
            .into_iter()
            .map(|(variant, ms)| TimedVariant { variant, ms })
            .collect(),
        ort_ms: None,
        weight_bytes: lstm.weight_bytes(),
        weight_bytes_per_step: lstm.weight_bytes_per_step(dims)?,
        forward_ms,
    })
}

/// One shape timed as training steps ([`time_train_shape`]).
#[derive(Clone, Debug)]
pub struct TrainResult {
    pub shape: Shape,
    /// One step: `TrainLstm::forward_train` (upload, dispatches, readback of the outputs) and
    /// `Trainer::step` (backward and Adam with clipping, one submission), weights resident.
    pub step_ms: Spread,
    /// The CPU reference's forward and backward (f64), once.
    pub cpu_ms: f64,
    /// Largest difference between the GPU's and the CPU's gradients (one backward), relative to
    /// the largest gradient.
    pub gradient_error: f64,
    pub forward: PassStats,
    pub backward: PassStats,
    /// Dispatches of the optimizer (recorded in the backward's submission).
    pub optimizer_dispatches: u32,
}

/// Time training steps of one shape on `ctx`'s device: `warmup` untimed steps, `reps` timed
/// ones (forward, backward and an Adam update of the resident weights; the loss is
/// L = Σ dy⊙y for a fixed random dy), then one backward against the CPU reference.
#[cfg(not(target_arch = "wasm32"))]
pub fn time_train_shape(
    ctx: &GpuContext,
    shape: &Shape,
    warmup: usize,
    reps: usize,
    tick: &dyn Fn(),
) -> Result<TrainResult> {
    use crate::train::gpu::{TrainLstm, Trainer};
    if reps == 0 {
        return Err(Error::invalid("reps", "must be at least 1"));
    }
    let config = shape.config()?;
    let weights = LstmWeights::random(&config, 0)?;
    let model = TrainLstm::new(&ctx.device, &ctx.queue, &config, &weights)?;
    let mut trainer = Trainer::new(&model, crate::train::Optimizer::adam(1e-3).with_clip_norm(1.0))?;
    let x = Tensor::random(vec![shape.seq, shape.batch, shape.input], 1.0, 1)?;
    let width = config.num_directions() * config.output_size();
    let dy = Tensor::random(vec![shape.seq, shape.batch, width], 1.0, 2)?;
    // Gradients of the untouched weights, for the comparison with the CPU.
    let (_, tape) = model.forward_train(&x, None, None)?;
    let gpu_grads = model.backward(&tape, &dy, None, None)?;
    drop(tape);
    let mut wall = Vec::new();
    for n in 0..warmup + reps {
        let start = Instant::now();
        let (_, tape) = model.forward_train(&x, None, None)?;
        trainer.step(&model, &tape, &dy, None, None)?;
        if n >= warmup {
            wall.push(start.elapsed().as_secs_f64() * 1e3);
        }
        tick();
    }
    let stats = model.last_stats();
    let start = Instant::now();
    let cpu = CpuLstm::new(&config, &weights)?;
    let (_, cpu_tape) = cpu.forward_train(&x, None, None)?;
    let cpu_grads = cpu.backward(&cpu_tape, &dy, None, None)?;
    let cpu_ms = start.elapsed().as_secs_f64() * 1e3;
    tick();
    let largest = cpu_grads
        .max_abs_weight()
        .max(cpu_grads.dx.data().iter().fold(0.0f32, |m, v| m.max(v.abs())));
    let diff = gpu_grads.max_abs_diff(&cpu_grads).unwrap_or(f32::INFINITY);
    Ok(TrainResult {
        shape: shape.clone(),
        step_ms: Spread::of(wall),
        cpu_ms,
        gradient_error: (diff / largest.max(f32::MIN_POSITIVE)) as f64,
        forward: stats.forward,
        backward: stats.backward,
        optimizer_dispatches: stats.optimizer.dispatches,
    })
}
