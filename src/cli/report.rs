//! `wgpu-lstm report`: bench reports (JSON) side by side, and a plot of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use wgpu_lstm::bench::{BenchReport, Shape, ShapeResult};
use wgpu_lstm::{Error, Result};

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
    let draw_err = |e: String| Error::format(path, format!("could not draw the plot: {e}"));
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
