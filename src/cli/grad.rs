//! `wgpu-lstm grad`: the gradients of L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n with respect to the
//! weights, the input and the initial state, written as `grads.safetensors` (the weights file's
//! keys, shapes and convention) and `dx.npy`, `dh0.npy`, `dc0.npy` (no `dc0.npy` for a GRU or an
//! RNN, which have no cell state).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::run::{read_request, report_written, InputArgs, Request};
use super::DeviceArg;
use wgpu_lstm::gpu::TrainLstm;
use wgpu_lstm::train::{check_trainable, gradient_files};
use wgpu_lstm::{CpuLstm, Error, GpuContext, LstmWeights, Result, Tensor};

#[derive(Args)]
pub struct GradArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// dL/dy (.npy, float32/float64) in the shape of the y.npy `run` writes for this model.
    #[arg(long, value_name = "DY.npy")]
    dy: PathBuf,
    /// dL/dh_n (.npy) in the shape of run's h_n.npy; zero when absent.
    #[arg(long, value_name = "DHN.npy")]
    dh_n: Option<PathBuf>,
    /// dL/dc_n (.npy) in the shape of run's c_n.npy (LSTM only); zero when absent.
    #[arg(long, value_name = "DCN.npy")]
    dc_n: Option<PathBuf>,
    /// Output directory for grads.safetensors, dx.npy, dh0.npy and dc0.npy (LSTM only; created
    /// if missing), replaced as a whole: it may hold nothing else.
    #[arg(long)]
    out: PathBuf,
}

pub fn grad(args: &GradArgs) -> Result<ExitCode> {
    let Request {
        config,
        weights,
        convention,
        input,
        initial,
        seq_lens,
        limits,
    } = read_request(&args.inputs)?;
    check_trainable(&config)?;
    let (seq_len, batch) = match config.layout {
        wgpu_lstm::Layout::SeqMajor => (input.shape()[0], input.shape()[1]),
        wgpu_lstm::Layout::BatchMajor => (input.shape()[1], input.shape()[0]),
    };
    let label = |p: &Path| format!("--dy {}", p.display());
    let dy = Tensor::read_npy_with(&args.dy, limits)?;
    let expected = convention.y_shape(&config, seq_len, batch);
    if dy.shape() != expected.as_slice() {
        return Err(Error::shape(label(&args.dy), &expected, dy.shape()));
    }
    let dy = convention.y_from_file(&config, &label(&args.dy), dy)?;
    let read_state = |flag: &str, path: &Option<PathBuf>, width: usize| -> Result<Option<Tensor>> {
        let Some(path) = path else { return Ok(None) };
        let t = Tensor::read_npy_with(path, limits)?;
        let expected = convention.state_shape(&config, batch, width);
        if t.shape() != expected.as_slice() {
            return Err(Error::shape(
                format!("{flag} {}", path.display()),
                &expected,
                t.shape(),
            ));
        }
        Ok(Some(convention.state_from_file(config.layout, t)?))
    };
    if args.dc_n.is_some() && !config.cell.has_cell_state() {
        return Err(Error::invalid(
            "--dc-n",
            format!(
                "{} has no cell state; give --dh-n alone",
                config.cell.indefinite()
            ),
        ));
    }
    let dh_n = read_state("--dh-n", &args.dh_n, config.output_size())?;
    let dc_n = read_state("--dc-n", &args.dc_n, config.cell_state_size())?;
    let prefix = LstmWeights::key_prefix_of_file(&args.inputs.weights, convention, limits)?;
    let (grads, engine) = match args.inputs.device {
        DeviceArg::Gpu => {
            let ctx = GpuContext::with_request(&args.inputs.adapter.request())?;
            let model = TrainLstm::new(&ctx.device, &ctx.queue, &config, &weights)?;
            let (_, tape) = model.forward_train(&input, initial.as_ref(), seq_lens.as_deref())?;
            let grads = model.backward(&tape, &dy, dh_n.as_ref(), dc_n.as_ref())?;
            (grads, format!("GPU: {}", ctx.describe()))
        }
        DeviceArg::Cpu => {
            let cpu = CpuLstm::new(&config, &weights)?;
            let (_, tape) = cpu.forward_train(&input, initial.as_ref(), seq_lens.as_deref())?;
            let grads = cpu.backward(&tape, &dy, dh_n.as_ref(), dc_n.as_ref())?;
            (grads, "CPU reference (float64)".to_string())
        }
    };
    grads.save(&args.out, &config, convention, &prefix)?;
    report_written(&args.out, gradient_files(&config), convention, &engine);
    Ok(ExitCode::SUCCESS)
}
