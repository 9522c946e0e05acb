//! `wgpu-lstm run`: weights and inputs from files, outputs to `.npy` files in the weights'
//! convention. Outputs appear only when the whole forward succeeded.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{AdapterArgs, DeviceArg, GpuEngine, PrecisionArg, TuneCacheArgs};
use wgpu_lstm::onnx::{is_onnx_file, OnnxLstm, OnnxModel};
use wgpu_lstm::{
    read_lengths_npy_with, Cell, Convention, CpuLstm, Dim, Direction, Error, GateOptions, Layout, LstmConfig,
    LstmWeights, ReadLimits, Result, State, Tensor, OUTPUT_FILES,
};

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum ConventionArg {
    Pytorch,
    Onnx,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CellArg {
    Lstm,
    Gru,
    Rnn,
}

impl CellArg {
    pub fn cell(self) -> Cell {
        match self {
            CellArg::Lstm => Cell::Lstm,
            CellArg::Gru => Cell::Gru,
            CellArg::Rnn => Cell::Rnn,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NonlinearityArg {
    Tanh,
    Relu,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DirectionArg {
    Forward,
    Reverse,
    Bidirectional,
}

/// What a forward reads: the model, its options, the input and initial state (`run` and `grad`).
#[derive(Args)]
pub struct InputArgs {
    /// Weights: .safetensors (PyTorch state_dict keys or ONNX W/R/B) or an .onnx model, told
    /// apart by content. An .onnx model's attributes set every option below, and a flag that
    /// contradicts them is an error.
    #[arg(long)]
    pub weights: PathBuf,
    /// The LSTM node(s) of an .onnx model, by name or path/name; several stack as layers in the
    /// order given. A model with one LSTM node needs none.
    #[arg(long, value_delimiter = ',', value_name = "NAME[,NAME..]")]
    node: Vec<String>,
    /// Input sequence X (.npy, float32/float64): [T,B,I], or [B,T,I] with --batch-first.
    #[arg(long)]
    input: PathBuf,
    /// Initial hidden state (.npy); zeros when absent.
    #[arg(long)]
    h0: Option<PathBuf>,
    /// Initial cell state (.npy, LSTM only); zeros when absent.
    #[arg(long)]
    c0: Option<PathBuf>,
    /// The recurrent cell the weights must be (the weights' shapes tell: R of 4H×H, 3H×H or
    /// H×H); a cell that contradicts them is an error.
    #[arg(long, value_enum)]
    cell: Option<CellArg>,
    /// GRU weights in the ONNX convention: the reset gate applies after the recurrent product
    /// (ONNX linear_before_reset = 1; PyTorch's nn.GRU always does).
    #[arg(long)]
    linear_before_reset: bool,
    /// An RNN's activation (PyTorch nn.RNN's nonlinearity), which the weights do not record.
    #[arg(long, value_enum)]
    nonlinearity: Option<NonlinearityArg>,
    /// Sequence lengths (.npy, int32/int64, shape [B], each in 0..=T; a sequence of length 0
    /// gives zero outputs and final states).
    #[arg(long)]
    seq_lens: Option<PathBuf>,
    /// Batch-major sequences (PyTorch batch_first=True, ONNX layout=1).
    #[arg(long)]
    batch_first: bool,
    /// Weight convention (default: detected from the tensor names).
    #[arg(long, value_enum)]
    convention: Option<ConventionArg>,
    /// Direction (default: forward, or bidirectional for weights with two directions). Weights
    /// with one direction can run `reverse`.
    #[arg(long, value_enum)]
    direction: Option<DirectionArg>,
    /// Clamp every gate pre-activation (after biases and peepholes) to [-F, F]; F > 0.
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    clip: Option<f32>,
    /// Couple the forget gate to the input gate: f = 1 - i.
    #[arg(long)]
    input_forget: bool,
    /// The cell's activations per direction (LSTM f,g,h; GRU f,g; RNN f), e.g. Sigmoid,Tanh,Tanh.
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    activations: Vec<String>,
    /// Alphas, consumed in order by the activations that take one.
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_name = "X,.."
    )]
    activation_alpha: Vec<f32>,
    /// Betas, consumed in order by the activations that take one.
    #[arg(
        long,
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_name = "X,.."
    )]
    activation_beta: Vec<f32>,
    /// Where to run.
    #[arg(long, value_enum, default_value = "gpu")]
    pub device: DeviceArg,
    /// How the GPU stores the weights: f16 halves their memory and bandwidth (accumulation and
    /// state stay f32); the CPU reference then rounds the weights the same way.
    #[arg(long, value_enum, default_value = "f32")]
    weights_precision: PrecisionArg,
    #[command(flatten)]
    pub adapter: AdapterArgs,
    /// Refuse input files (weights, input, h0, c0, seq_lens, and grad's dy, dh_n, dc_n) larger
    /// than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ReadLimits::DEFAULT.max_bytes)]
    pub max_file_bytes: u64,
    /// Refuse an `.onnx` model whose constant folding would compute more than this many bytes
    /// of values (each op's result, 8 bytes an element).
    #[arg(long, value_name = "BYTES", default_value_t = ReadLimits::DEFAULT.max_folded_bytes)]
    pub max_folded_bytes: u64,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    tune: TuneCacheArgs,
    /// Feed the sequence through the streaming API in chunks of N timesteps (the state stays on
    /// the GPU between chunks). A bidirectional layer's reverse direction then runs within each
    /// chunk.
    #[arg(long, value_name = "N")]
    chunk: Option<usize>,
    /// Output directory for y.npy, h_n.npy and c_n.npy (created if missing), replaced as a whole:
    /// it may hold nothing else.
    #[arg(long)]
    out: PathBuf,
}

fn direction_of(arg: DirectionArg) -> Direction {
    match arg {
        DirectionArg::Forward => Direction::Forward,
        DirectionArg::Reverse => Direction::Reverse,
        DirectionArg::Bidirectional => Direction::Bidirectional,
    }
}

/// The gate options the flags give for a model of `directions` directions (`--nonlinearity
/// relu` names an RNN's activation).
fn gate_options(args: &InputArgs, directions: usize) -> GateOptions {
    let nonlinearity = match args.nonlinearity {
        Some(NonlinearityArg::Relu) => Some(vec!["Relu".to_string(); directions]),
        Some(NonlinearityArg::Tanh) => Some(vec!["Tanh".to_string(); directions]),
        None => None,
    };
    GateOptions {
        clip: args.clip,
        input_forget: args.input_forget,
        activations: (!args.activations.is_empty())
            .then(|| args.activations.clone())
            .or(nonlinearity),
        activation_alpha: args.activation_alpha.clone(),
        activation_beta: args.activation_beta.clone(),
    }
}

/// A flag that disagrees with an .onnx node's attribute.
fn contradiction(flag: &str, given: impl std::fmt::Display, model: impl std::fmt::Display) -> Error {
    Error::invalid(
        flag,
        format!("{given} contradicts the model's {model}; leave the flag out to use the model's"),
    )
}

/// The configuration and weights from an .onnx model, with every flag checked against the
/// node's attributes; and the initial state and lengths the model holds as constants.
fn from_onnx(args: &InputArgs, limits: ReadLimits) -> Result<OnnxLstm> {
    if args.convention == Some(ConventionArg::Pytorch) {
        return Err(contradiction("--convention", "pytorch", "ONNX format"));
    }
    let model = OnnxModel::open_with(&args.weights, limits)?;
    let names: Vec<&str> = args.node.iter().map(String::as_str).collect();
    let mut lstm = model.load(&names)?;
    let config = &lstm.config;
    eprintln!("ONNX node(s): {}", lstm.nodes.join(", "));
    if args.batch_first && config.layout != Layout::BatchMajor {
        return Err(contradiction(
            "--batch-first",
            "batch-first",
            "layout 0 (sequence-major)",
        ));
    }
    if let Some(d) = args.direction.map(direction_of) {
        if d != config.direction {
            return Err(contradiction(
                "--direction",
                format!("{d:?}"),
                format!("{:?}", config.direction),
            ));
        }
    }
    check_cell_flags(args, config)?;
    if let Some(c) = gate_options(args, config.num_directions()).contradiction(config)? {
        let flag = format!("--{}", c.option.replace('_', "-"));
        return Err(contradiction(&flag, c.given, c.model));
    }
    lstm.config.weights_precision = args.weights_precision.precision();
    Ok(lstm)
}

/// A forward's request, read and checked: the model and what it runs on.
pub struct Request {
    pub config: LstmConfig,
    pub weights: LstmWeights,
    pub convention: Convention,
    pub input: Tensor,
    pub initial: Option<State>,
    pub seq_lens: Option<Vec<usize>>,
    pub limits: ReadLimits,
}

/// Read the model, the input, the initial state and the lengths the flags name.
pub fn read_request(args: &InputArgs) -> Result<Request> {
    let limits = ReadLimits {
        max_bytes: args.max_file_bytes,
        max_folded_bytes: args.max_folded_bytes,
    };
    let onnx = is_onnx_file(&args.weights, limits)?;
    if !onnx && !args.node.is_empty() {
        return Err(Error::invalid(
            "--node",
            format!("{} is not an .onnx model", args.weights.display()),
        ));
    }
    let (config, weights, convention, model_initial, model_lens) = if onnx {
        let lstm = from_onnx(args, limits)?;
        (
            lstm.config,
            lstm.weights,
            Convention::Onnx,
            lstm.initial,
            lstm.seq_lens,
        )
    } else {
        let (config, weights, convention) = from_safetensors(args, limits)?;
        (config, weights, convention, None, None)
    };
    let layout = config.layout;
    let batch_first = layout == Layout::BatchMajor;
    let input = Tensor::read_npy_with(&args.input, limits)?;
    let (seq_len, batch) = match input.shape() {
        [a, b, i] if *i == config.input_size => {
            if batch_first {
                (*b, *a)
            } else {
                (*a, *b)
            }
        }
        got => {
            let (t, b) = (Dim::Named("T"), Dim::Named("B"));
            let [first, second] = if batch_first { [b, t] } else { [t, b] };
            return Err(Error::shape_pattern(
                format!("input {}", args.input.display()),
                vec![first, second, Dim::Known("I", config.input_size)],
                got,
            ));
        }
    };
    let read_state = |path: &Option<PathBuf>, width: usize| -> Result<Tensor> {
        let state_shape = convention.state_shape(&config, batch, width);
        match path {
            None => Tensor::zeros(state_shape),
            Some(p) => {
                let t = Tensor::read_npy_with(p, limits)?;
                if t.shape() != state_shape.as_slice() {
                    return Err(Error::shape(p.display().to_string(), &state_shape, t.shape()));
                }
                convention.state_from_file(layout, t)
            }
        }
    };
    if args.c0.is_some() && !config.cell.has_cell_state() {
        return Err(Error::invalid(
            "--c0",
            format!("{} has no cell state; give --h0 alone", config.cell.indefinite()),
        ));
    }
    let initial = (args.h0.is_some() || args.c0.is_some())
        .then(|| -> Result<State> {
            Ok(State {
                h: read_state(&args.h0, config.output_size())?,
                c: read_state(&args.c0, config.cell_state_size())?,
            })
        })
        .transpose()?;
    // An .onnx model's constant initial state and lengths, unless the flags give them.
    let initial = match (initial, model_initial) {
        (Some(given), _) => Some(given),
        (None, Some(model)) => {
            if model.h.shape()[1] != batch {
                return Err(Error::invalid(
                    "initial state",
                    format!(
                        "the model's constant initial_h is for a batch of {}, the input has {batch}",
                        model.h.shape()[1]
                    ),
                ));
            }
            Some(model)
        }
        (None, None) => None,
    };
    let seq_lens = match args.seq_lens.as_deref() {
        Some(p) => Some(read_lengths_npy_with(p, limits)?),
        None => model_lens,
    };
    if let Some(lens) = &seq_lens {
        if let Some(bad) = lens.iter().find(|&&l| l > seq_len) {
            let what = args
                .seq_lens
                .as_ref()
                .map_or("the model's sequence_lens".to_string(), |p| {
                    p.display().to_string()
                });
            return Err(Error::invalid(
                what,
                format!("length {bad} is outside 0..={seq_len}"),
            ));
        }
    }
    Ok(Request {
        config,
        weights,
        convention,
        input,
        initial,
        seq_lens,
        limits,
    })
}

pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let Request {
        config,
        weights,
        convention,
        input,
        initial,
        seq_lens,
        ..
    } = read_request(&args.inputs)?;
    if args.chunk == Some(0) {
        return Err(Error::invalid("--chunk", "must be at least 1"));
    }
    let (output, engine, tuned) = match args.inputs.device {
        DeviceArg::Gpu => {
            let gpu = GpuEngine::open(&args.inputs.adapter, Some(&args.tune), &config, &weights)?;
            let output = super::forward(
                &gpu.lstm,
                &input,
                initial.as_ref(),
                seq_lens.as_deref(),
                args.chunk,
            )?;
            (output, gpu.name(), Some(gpu.ctx))
        }
        DeviceArg::Cpu => {
            let cpu = CpuLstm::new(&config, &weights)?;
            let output = super::forward(&cpu, &input, initial.as_ref(), seq_lens.as_deref(), args.chunk)?;
            (output, "CPU reference".to_string(), None)
        }
    };
    output.save_npy(&args.out, &config, convention)?;
    let written = if config.cell.has_cell_state() {
        &OUTPUT_FILES[..]
    } else {
        &OUTPUT_FILES[..2]
    };
    report_written(&args.out, written, convention, &engine);
    // The outputs are written first: a tune cache that cannot be saved loses nothing else.
    if let Some(ctx) = tuned {
        if let Err(e) = args.tune.save(ctx.pipeline_cache()) {
            eprintln!("warning: the tune cache was not saved: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Say which files a command wrote into `dir`, in which convention, on which device.
pub fn report_written(dir: &Path, names: &[&str], convention: Convention, engine: &str) {
    eprintln!(
        "wrote {} ({convention} convention, {engine} device)",
        names
            .iter()
            .map(|n| dir.join(n).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Refuse a `--cell` the weights contradict, and `--nonlinearity` or `--activations` together
/// or for a cell other than the RNN.
fn check_cell_flags(args: &InputArgs, config: &LstmConfig) -> Result<()> {
    if let Some(cell) = args.cell.map(CellArg::cell) {
        if cell != config.cell {
            return Err(Error::invalid(
                "--cell",
                format!(
                    "{cell} contradicts the weights, whose R ({}H×H) is {}'s",
                    config.gates(),
                    config.cell.indefinite()
                ),
            ));
        }
    }
    if args.nonlinearity.is_some() {
        if config.cell != Cell::Rnn {
            return Err(Error::invalid(
                "--nonlinearity",
                format!("is an RNN option; the weights are {}'s", config.cell.indefinite()),
            ));
        }
        if !args.activations.is_empty() {
            return Err(Error::invalid(
                "--nonlinearity",
                "give it or --activations, not both",
            ));
        }
    }
    Ok(())
}

/// The configuration and weights from a .safetensors file and the flags.
fn from_safetensors(args: &InputArgs, limits: ReadLimits) -> Result<(LstmConfig, LstmWeights, Convention)> {
    let convention = args.convention.map(|c| match c {
        ConventionArg::Pytorch => Convention::PyTorch,
        ConventionArg::Onnx => Convention::Onnx,
    });
    let (mut weights, convention) = LstmWeights::load_with(&args.weights, convention, limits)?;
    if let Some(direction) = args.direction.map(direction_of) {
        let have = weights.direction().num_directions();
        weights = weights.with_direction(direction).map_err(|_| {
            Error::invalid(
                "--direction",
                format!(
                    "{direction:?} needs weights with {} direction(s); {} has {}",
                    direction.num_directions(),
                    args.weights.display(),
                    have
                ),
            )
        })?;
    }
    let layout = if args.batch_first {
        Layout::BatchMajor
    } else {
        Layout::SeqMajor
    };
    // nn.GRU's weights (and files the project wrote) are read with it already.
    if args.linear_before_reset && !weights.linear_before_reset() {
        let op = weights.cell().onnx_op();
        weights = weights.with_linear_before_reset(true).map_err(|_| {
            Error::invalid(
                "--linear-before-reset",
                format!("is a GRU option; {} holds {op} weights", args.weights.display()),
            )
        })?;
    }
    let mut config = weights.config(layout);
    check_cell_flags(args, &config)?;
    gate_options(args, config.num_directions()).apply(&mut config)?;
    config.weights_precision = args.weights_precision.precision();
    config.validate()?;
    Ok((config, weights, convention))
}
