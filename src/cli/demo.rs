//! `wgpu-lstm demo`: the main job in one command. A seeded random LSTM (or GRU, or RNN) runs on
//! the GPU and on the CPU reference; it prints the adapter, the shape, both times and the
//! largest difference.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::run::CellArg;
use super::{AdapterArgs, GpuEngine, PrecisionArg};
use wgpu_lstm::{
    Cell, CpuLstm, Dims, Direction, ErrorBound, Layout, LstmConfig, LstmWeights, Result, Tensor,
};

#[derive(Args)]
pub struct DemoArgs {
    /// The recurrent cell (a GRU as PyTorch's nn.GRU computes it, linear_before_reset = 1).
    #[arg(long, value_enum, default_value = "lstm")]
    cell: CellArg,
    /// B: sequences per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// T: timesteps.
    #[arg(long, default_value_t = 100)]
    seq: usize,
    /// I: input features.
    #[arg(long, default_value_t = 64)]
    input: usize,
    /// H: hidden units.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// L: stacked layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Run both directions.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    bidirectional: bool,
    /// Timed GPU forwards after one warm-up (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Seed for weights and inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How the GPU stores the weights (the CPU reference rounds them the same way).
    #[arg(long, value_enum, default_value = "f32")]
    weights_precision: PrecisionArg,
    #[command(flatten)]
    adapter: AdapterArgs,
}

pub fn demo(args: &DemoArgs) -> Result<ExitCode> {
    let cell = args.cell.cell();
    let config = LstmConfig {
        cell,
        linear_before_reset: cell == Cell::Gru,
        input_size: args.input,
        hidden_size: args.hidden,
        num_layers: args.layers,
        direction: if args.bidirectional {
            Direction::Bidirectional
        } else {
            Direction::Forward
        },
        bias: true,
        layout: Layout::SeqMajor,
        weights_precision: args.weights_precision.precision(),
        ..LstmConfig::default()
    };
    config.validate()?;
    if args.batch == 0 || args.seq == 0 || args.reps == 0 {
        return Err(wgpu_lstm::Error::invalid(
            "demo",
            "--batch, --seq and --reps must be at least 1",
        ));
    }
    let weights = LstmWeights::random(&config, args.seed)?;
    let gpu = GpuEngine::open(&args.adapter, None, &config, &weights)?;
    println!("adapter : {}", gpu.ctx.describe());
    // Sizes are checked against the device before the input is made.
    let dims = Dims {
        seq_len: args.seq,
        batch: args.batch,
    };
    gpu.lstm.check_dims(dims)?;
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    // The device holds T·B·I floats, so the product does not overflow.
    let n = args.seq * args.batch * args.input;
    let input = Tensor::new(
        vec![args.seq, args.batch, args.input],
        (0..n).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
    )?;
    println!(
        "shape   : B={} T={} I={} H={} layers={} {} {}",
        args.batch,
        args.seq,
        args.input,
        args.hidden,
        args.layers,
        if args.bidirectional {
            "bidirectional"
        } else {
            "forward"
        },
        cell.onnx_op()
    );
    let mut gpu_out = gpu.lstm.forward(&input, None)?;
    let mut times = Vec::with_capacity(args.reps);
    for _ in 0..args.reps {
        let start = Instant::now();
        gpu_out = gpu.lstm.forward(&input, None)?;
        times.push(start.elapsed());
    }
    times.sort();
    let gpu_time = times[times.len() / 2];
    let s = gpu.lstm.last_stats();
    println!(
        "forward : {} dispatches, {} submit, {} readback ({}); weights {:.1} KiB ({})",
        s.dispatches,
        s.submits,
        s.readbacks,
        s.variants,
        gpu.lstm.weight_bytes() as f64 / 1024.0,
        config.weights_precision.name()
    );

    let cpu = CpuLstm::new(&config, &weights)?;
    let start = Instant::now();
    let cpu_out = cpu.forward(&input, None)?;
    let cpu_time = start.elapsed();

    let comparison = gpu_out.compare(&cpu_out, ErrorBound::for_model(&config, dims))?;
    println!("gpu     : {} per forward (median of {})", ms(gpu_time), args.reps);
    println!("cpu     : {} per forward (f64 reference)", ms(cpu_time));
    let pass = comparison.passed();
    println!(
        "max |gpu - cpu| = {:.3e}, {:.2} of the bound |gpu - cpu| <= {}: {}",
        comparison.max_abs_error,
        comparison.worst_ratio,
        comparison.bound,
        if pass { "PASS" } else { "FAIL" }
    );
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}
