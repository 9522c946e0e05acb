//! `wgpu-lstm run`: weights and inputs from files, outputs to `.npy` files in the weights'
//! convention. Outputs appear only when the whole forward succeeded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{AdapterArgs, DeviceArg, Runner};
use wgpu_lstm::tensor::read_lengths_npy;
use wgpu_lstm::{Convention, Error, Layout, LstmWeights, Result, State, Tensor};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConventionArg {
    Pytorch,
    Onnx,
}

#[derive(Args)]
pub struct RunArgs {
    /// Weights (.safetensors), PyTorch state_dict keys or ONNX W/R/B.
    #[arg(long)]
    weights: PathBuf,
    /// Input sequence X (.npy, float32/float64): [T,B,I], or [B,T,I] with --batch-first.
    #[arg(long)]
    input: PathBuf,
    /// Initial hidden state (.npy); zeros when absent.
    #[arg(long)]
    h0: Option<PathBuf>,
    /// Initial cell state (.npy); zeros when absent.
    #[arg(long)]
    c0: Option<PathBuf>,
    /// Sequence lengths (.npy, int32/int64, shape [B], each in 1..=T).
    #[arg(long)]
    seq_lens: Option<PathBuf>,
    /// Batch-major sequences (PyTorch batch_first=True, ONNX layout=1).
    #[arg(long)]
    batch_first: bool,
    /// Weight convention (default: detected from the tensor names).
    #[arg(long, value_enum)]
    convention: Option<ConventionArg>,
    /// Where to run.
    #[arg(long, value_enum, default_value = "gpu")]
    device: DeviceArg,
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Output directory for y.npy, h_n.npy and c_n.npy (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let convention = args.convention.map(|c| match c {
        ConventionArg::Pytorch => Convention::PyTorch,
        ConventionArg::Onnx => Convention::Onnx,
    });
    let (weights, convention) = LstmWeights::load(&args.weights, convention)?;
    let layout = if args.batch_first {
        Layout::BatchMajor
    } else {
        Layout::SeqMajor
    };
    let config = weights.config(layout);

    let input = Tensor::read_npy(&args.input)?;
    let (seq_len, batch) = match input.shape() {
        [a, b, i] if *i == config.input_size => {
            if args.batch_first {
                (*b, *a)
            } else {
                (*a, *b)
            }
        }
        got => {
            return Err(Error::Shape {
                what: format!("input {}", args.input.display()),
                expected: format!(
                    "{} with I = {}",
                    if args.batch_first {
                        "[B, T, I]"
                    } else {
                        "[T, B, I]"
                    },
                    config.input_size
                ),
                got: format!("{got:?}"),
            })
        }
    };
    let state_shape = convention.state_shape(&config, batch);
    let read_state = |path: &Option<PathBuf>| -> Result<Tensor> {
        match path {
            None => Ok(Tensor::zeros(state_shape.clone())),
            Some(p) => {
                let t = Tensor::read_npy(p)?;
                if t.shape() != state_shape.as_slice() {
                    return Err(Error::Shape {
                        what: p.display().to_string(),
                        expected: format!("{state_shape:?}"),
                        got: format!("{:?}", t.shape()),
                    });
                }
                Ok(convention.state_from_file(layout, t))
            }
        }
    };
    let initial = (args.h0.is_some() || args.c0.is_some())
        .then(|| -> Result<State> {
            Ok(State {
                h: read_state(&args.h0)?,
                c: read_state(&args.c0)?,
            })
        })
        .transpose()?;
    let seq_lens = args.seq_lens.as_deref().map(read_lengths_npy).transpose()?;
    if let Some(lens) = &seq_lens {
        if let Some(bad) = lens.iter().find(|&&l| l == 0 || l > seq_len) {
            return Err(Error::invalid(
                args.seq_lens.as_ref().unwrap().display().to_string(),
                format!("length {bad} is outside 1..={seq_len}"),
            ));
        }
    }

    let runner = Runner::new(args.device, &args.adapter, &config, &weights)?;
    let output = runner.forward(&input, initial.as_ref(), seq_lens.as_deref())?;
    let files = [
        ("y.npy", convention.y_to_file(&config, output.y)),
        ("h_n.npy", convention.state_to_file(layout, output.h_n)),
        ("c_n.npy", convention.state_to_file(layout, output.c_n)),
    ];
    write_all_or_nothing(&args.out, &files)?;
    eprintln!(
        "wrote {} ({} convention, {} device)",
        files
            .iter()
            .map(|(n, _)| args.out.join(n).display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        convention,
        runner.name()
    );
    Ok(ExitCode::SUCCESS)
}

/// Write every file under a temporary name, then rename them all; on any failure remove what
/// was written (and the directory, if this call created it).
fn write_all_or_nothing(dir: &Path, files: &[(&str, Tensor)]) -> Result<()> {
    let created = !dir.exists();
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = |name: &str| dir.join(format!(".{name}.partial"));
    let result = files
        .iter()
        .try_for_each(|(name, t)| t.write_npy(&tmp(name)))
        .and_then(|()| {
            files.iter().try_for_each(|(name, _)| {
                fs::rename(tmp(name), dir.join(name)).map_err(|e| Error::io(dir.join(name), e))
            })
        });
    if result.is_err() {
        for (name, _) in files {
            let _ = fs::remove_file(tmp(name));
            if created {
                let _ = fs::remove_file(dir.join(name));
            }
        }
        if created {
            let _ = fs::remove_dir(dir);
        }
    }
    result
}
