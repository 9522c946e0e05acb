//! The versioned JSON report of `wgpu-lstm bench` (schema in `docs/bench-report.schema.json`),
//! and `wgpu-lstm report`, which sets reports side by side and plots them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::{Deserialize, Serialize};

use wgpu_lstm::{Error, Result};

/// The `schema` field of reports this version writes and reads.
pub const SCHEMA: &str = "wgpu-lstm-bench/1";

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
}

impl Shape {
    pub fn label(&self) -> String {
        format!(
            "B{} T{} I{} H{} L{}{}",
            self.batch,
            self.seq,
            self.input,
            self.hidden,
            self.layers,
            if self.bidirectional { " bi" } else { "" }
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
pub struct Counters {
    pub dispatches: u32,
    pub submits: u32,
    pub readbacks: u32,
    pub bytes_uploaded: u64,
    pub bytes_downloaded: u64,
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
    pub counters: Counters,
    /// Which kernels ran.
    pub variant: String,
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
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let report: BenchReport = serde_json::from_str(&text).map_err(|e| Error::Format {
            path: path.into(),
            message: format!("not a wgpu-lstm bench report: {e}"),
        })?;
        if report.schema != SCHEMA {
            return Err(Error::Format {
                path: path.into(),
                message: format!("schema '{}', this version reads '{SCHEMA}'", report.schema),
            });
        }
        Ok(report)
    }

    /// Write as pretty JSON, all or nothing.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("reports serialize");
        wgpu_lstm::files::write_atomic(path, text.as_bytes())
    }
}

#[derive(Args)]
pub struct ReportArgs {
    /// Reports written by `wgpu-lstm bench --json`.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// Draw throughput against shape, one series per adapter, as SVG.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
}

pub fn report(args: &ReportArgs) -> Result<ExitCode> {
    let reports = args
        .reports
        .iter()
        .map(|p| BenchReport::load(p))
        .collect::<Result<Vec<_>>>()?;
    let mut shapes: BTreeMap<Shape, Vec<Option<&ShapeResult>>> = BTreeMap::new();
    for (k, r) in reports.iter().enumerate() {
        for res in &r.results {
            shapes
                .entry(res.shape.clone())
                .or_insert_with(|| vec![None; reports.len()])[k] = Some(res);
        }
    }
    for (k, r) in reports.iter().enumerate() {
        println!(
            "[{k}] {} — {} — {}",
            r.adapter.label(),
            r.machine.cpu,
            r.machine.os
        );
    }
    let mut header = format!("{:<28}", "shape");
    for k in 0..reports.len() {
        header.push_str(&format!(" | {:>10} {:>9}", format!("[{k}] ms"), "GFLOP/s"));
    }
    println!("{header}");
    for (shape, row) in &shapes {
        let mut line = format!("{:<28}", shape.label());
        for cell in row {
            match cell {
                Some(r) => line.push_str(&format!(" | {:>10.3} {:>9.3}", r.forward_ms.median, r.gflops)),
                None => line.push_str(&format!(" | {:>10} {:>9}", "-", "-")),
            }
        }
        println!("{line}");
    }
    if let Some(path) = &args.plot {
        plot(path, &reports, &shapes)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn plot(
    path: &Path,
    reports: &[BenchReport],
    shapes: &BTreeMap<Shape, Vec<Option<&ShapeResult>>>,
) -> Result<()> {
    use plotters::prelude::*;
    let draw_err = |e: String| Error::Format {
        path: path.into(),
        message: format!("could not draw the plot: {e}"),
    };
    let labels: Vec<String> = shapes.keys().map(Shape::label).collect();
    let top = shapes
        .values()
        .flatten()
        .flatten()
        .map(|r| r.gflops)
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    let root = SVGBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption("wgpu-lstm: throughput by shape", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)
        .map_err(|e| draw_err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_style(("sans-serif", 11))
        .x_desc("shape (batch, sequence, input, hidden, layers)")
        .y_desc("GFLOP/s (median forward)")
        .draw()
        .map_err(|e| draw_err(e.to_string()))?;
    for (k, report) in reports.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let points: Vec<(f64, f64)> = shapes
            .values()
            .enumerate()
            .filter_map(|(x, row)| row[k].map(|r| (x as f64, r.gflops)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| draw_err(e.to_string()))?
            .label(format!("[{k}] {}", report.adapter.label()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))
            .map_err(|e| draw_err(e.to_string()))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| draw_err(e.to_string()))?;
    root.present().map_err(|e| draw_err(e.to_string()))
}
