//! `wgpu-lstm train-demo`: learn the adding problem (T = 100 by default) on the GPU with Adam,
//! with a progress bar, until the held-out MSE is below the target; optionally plot the learning
//! curve as SVG.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{progress, AdapterArgs};
use wgpu_lstm::train::adding::{self, Report, Settings};
use wgpu_lstm::{Error, GpuContext, Result};

#[derive(Args)]
pub struct TrainDemoArgs {
    /// T: steps per sequence.
    #[arg(long, default_value_t = Settings::default().seq_len)]
    seq_len: usize,
    /// Sequences per update.
    #[arg(long, default_value_t = Settings::default().batch)]
    batch: usize,
    /// Hidden units of the LSTM.
    #[arg(long, default_value_t = Settings::default().hidden)]
    hidden: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = Settings::default().learning_rate)]
    learning_rate: f32,
    /// Give up after this many updates.
    #[arg(long, default_value_t = Settings::default().steps)]
    max_steps: usize,
    /// Stop when the held-out MSE is below this.
    #[arg(long, default_value_t = Settings::default().target_mse)]
    target_mse: f32,
    #[arg(long, default_value_t = Settings::default().seed)]
    seed: u64,
    /// Draw the batch and held-out MSE against the update as SVG.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
    #[command(flatten)]
    adapter: AdapterArgs,
}

pub fn train_demo(args: &TrainDemoArgs) -> Result<ExitCode> {
    let settings = Settings {
        seq_len: args.seq_len,
        batch: args.batch,
        hidden: args.hidden,
        learning_rate: args.learning_rate,
        steps: args.max_steps,
        target_mse: args.target_mse,
        seed: args.seed,
        ..Settings::default()
    };
    for (flag, v) in [
        ("--seq-len", settings.seq_len),
        ("--batch", settings.batch),
        ("--hidden", settings.hidden),
        ("--max-steps", settings.steps),
    ] {
        if v == 0 {
            return Err(Error::invalid(flag, "must be at least 1"));
        }
    }
    if settings.target_mse.is_nan() || settings.target_mse <= 0.0 {
        return Err(Error::invalid("--target-mse", "must be positive"));
    }
    let ctx = GpuContext::with_request(&args.adapter.request())?;
    eprintln!(
        "adding problem: T = {}, batch {}, H = {}, Adam lr {} on {}",
        settings.seq_len,
        settings.batch,
        settings.hidden,
        settings.learning_rate,
        ctx.describe()
    );
    let bar = progress::bar(settings.steps as u64, "training");
    let mut last_eval = f32::NAN;
    let report = adding::train(&ctx.device, &ctx.queue, &settings, |p, _| {
        if let Some(e) = p.eval {
            last_eval = e;
            let line = format!("step {:5}  batch MSE {:.4}  held-out MSE {e:.4}", p.step, p.loss);
            // A hidden bar (stdout not a terminal) prints nothing itself.
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        bar.set_position(p.step as u64);
        bar.set_message(format!("MSE {:.4} (held-out {last_eval:.4})", p.loss));
    })?;
    bar.finish_and_clear();
    println!(
        "{} in {} steps, {:.1} s ({:.0} ms per step): held-out MSE {:.4} (target {}, always answering 1 scores {:.3})",
        if report.solved { "solved" } else { "NOT solved" },
        report.steps,
        report.seconds,
        report.seconds * 1e3 / report.steps as f64,
        report.eval_mse,
        settings.target_mse,
        adding::BASELINE_MSE
    );
    if let Some(path) = &args.plot {
        plot(path, &report, &settings)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if report.solved {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The learning curve: batch MSE (thin) and held-out MSE (thick), log scale, with the baseline
/// and the target.
fn plot(path: &Path, report: &Report, settings: &Settings) -> Result<()> {
    use plotters::prelude::*;
    let draw_err = |e: String| Error::format(path, format!("could not draw the plot: {e}"));
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
    let steps = report.steps.max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "adding problem, T = {}: {} steps, {:.0} s",
                settings.seq_len, report.steps, report.seconds
            ),
            ("sans-serif", 22),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..steps, (1e-3f64..2.0f64).log_scale())
        .map_err(|e| draw_err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("update")
        .y_desc("MSE")
        .draw()
        .map_err(|e| draw_err(e.to_string()))?;
    let clamp = |v: f32| (v as f64).clamp(1e-3, 2.0);
    let series = [
        (
            "batch MSE",
            report
                .curve
                .iter()
                .map(|&(s, l)| (s as f64, clamp(l)))
                .collect::<Vec<_>>(),
            BLUE.mix(0.35).stroke_width(1),
        ),
        (
            "held-out MSE",
            report
                .eval_curve
                .iter()
                .map(|&(s, l)| (s as f64, clamp(l)))
                .collect(),
            RED.stroke_width(3),
        ),
        (
            "answering 1 always",
            vec![
                (0.0, adding::BASELINE_MSE as f64),
                (steps, adding::BASELINE_MSE as f64),
            ],
            BLACK.mix(0.6).stroke_width(1),
        ),
        (
            "target",
            vec![
                (0.0, settings.target_mse as f64),
                (steps, settings.target_mse as f64),
            ],
            GREEN.stroke_width(1),
        ),
    ];
    for (label, points, style) in series {
        chart
            .draw_series(LineSeries::new(points, style))
            .map_err(|e| draw_err(e.to_string()))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| draw_err(e.to_string()))?;
    root.present().map_err(|e| draw_err(e.to_string()))
}
