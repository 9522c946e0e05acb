//! Learn the adding problem on the GPU: a one-layer LSTM and a linear head, trained with Adam
//! until the MSE on held-out sequences is below 0.01 (answering 1 always scores 0.167).
//!
//! `cargo run --release --example adding_problem [T]`; `wgpu-lstm train-demo` is the same run
//! with a progress bar and a learning-curve plot.

use wgpu_lstm::train::adding::{self, Settings};
use wgpu_lstm::GpuContext;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = GpuContext::new()?;
    let mut settings = Settings::default();
    if let Some(t) = std::env::args().nth(1) {
        settings.seq_len = t.parse()?;
    }
    println!("adding problem, T = {}, on {}", settings.seq_len, ctx.describe());
    let report = adding::train(&ctx.device, &ctx.queue, &settings, |p, _| {
        if let Some(e) = p.eval {
            println!("step {:5}  batch MSE {:.4}  held-out MSE {e:.4}", p.step, p.loss);
        }
    })?;
    println!(
        "{} after {} steps in {:.1} s: held-out MSE {:.4} (baseline {:.3})",
        if report.solved { "solved" } else { "not solved" },
        report.steps,
        report.seconds,
        report.eval_mse,
        adding::BASELINE_MSE
    );
    Ok(())
}
