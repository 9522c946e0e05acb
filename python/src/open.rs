//! Building a model for any of the classes (`LSTM`, `GRU`, `RNN`): the keyword arguments a model
//! of weights alone takes, state_dicts and files read into an engine, and the calls every class
//! shares.

use super::PyResult;
use crate::{convert::*, model::*, stream::*};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use wgpu_lstm::onnx::{is_onnx_file, OnnxModel};
use wgpu_lstm::{Cell, Convention};
use wgpu_lstm::{
    CpuLstm, GateOptions, Layout, Lstm, LstmConfig, LstmForward, LstmWeights, ReadLimits, State,
};

/// The ONNX attributes a model of weights alone takes as keyword arguments, and the cell the
/// class expects.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) cell: Cell,
    pub(crate) batch_first: Option<bool>,
    pub(crate) direction: Option<String>,
    pub(crate) gate: GateOptions,
    /// A GRU's `linear_before_reset`, for weights in the ONNX convention (which do not say).
    pub(crate) linear_before_reset: bool,
    /// An RNN's activation from `nonlinearity` ("Tanh" or "Relu"), one per direction once the
    /// weights tell the directions.
    pub(crate) nonlinearity: Option<&'static str>,
}

impl Options {
    /// An .onnx node sets these attributes itself: options that repeat them are accepted, ones
    /// that contradict them are errors naming both values.
    fn agree_with(&self, config: &LstmConfig) -> PyResult<()> {
        let contradiction = |name: &str, given: String, node: String| {
            PyValueError::new_err(format!(
                "{name}: {given} contradicts the node's {node}; leave {name} out to use the node's"
            ))
        };
        self.check_cell(config.cell)?;
        if self.linear_before_reset && !config.linear_before_reset {
            return Err(contradiction(
                "linear_before_reset",
                "True".into(),
                "linear_before_reset 0".into(),
            ));
        }
        if let Some(d) = &self.direction {
            if direction_of(d)? != config.direction {
                return Err(contradiction(
                    "direction",
                    d.clone(),
                    format!("{:?}", config.direction),
                ));
            }
        }
        if let Some(c) = self
            .gate_for(config.num_directions())
            .contradiction(config)
            .py()?
        {
            return Err(contradiction(c.option, c.given, c.model));
        }
        let batch_first = config.layout == Layout::BatchMajor;
        if self.batch_first.is_some_and(|b| b != batch_first) {
            return Err(contradiction(
                "batch_first",
                format!("{}", !batch_first),
                format!("layout {}", u8::from(batch_first)),
            ));
        }
        Ok(())
    }

    /// The gate options for a model of `directions` directions (an RNN's `nonlinearity` names
    /// one activation per direction).
    fn gate_for(&self, directions: usize) -> GateOptions {
        let mut gate = self.gate.clone();
        if let Some(name) = self.nonlinearity {
            gate.activations = Some(vec![name.to_string(); directions]);
        }
        gate
    }

    /// Refuse weights of another cell than the class's, naming the class to use.
    fn check_cell(&self, cell: Cell) -> PyResult<()> {
        if cell != self.cell {
            return Err(PyValueError::new_err(format!(
                "cell: the model is {}, not {}; load it with wgpu_lstm.{}",
                cell.indefinite(),
                self.cell.indefinite(),
                cell.onnx_op()
            )));
        }
        Ok(())
    }

    /// The configuration of `weights` with these options.
    fn config(&self, weights: LstmWeights) -> PyResult<(LstmConfig, LstmWeights)> {
        self.check_cell(weights.cell())?;
        let weights = match &self.direction {
            Some(d) => weights.with_direction(direction_of(d)?).py()?,
            None => weights,
        };
        // nn.GRU's files (and the project's) hold linear_before_reset already; ONNX W/R/B do not say.
        let weights = if self.linear_before_reset && !weights.linear_before_reset() {
            weights.with_linear_before_reset(true).py()?
        } else {
            weights
        };
        let layout = if self.batch_first == Some(true) {
            Layout::BatchMajor
        } else {
            Layout::SeqMajor
        };
        let mut config = weights.config(layout);
        self.gate_for(config.num_directions()).apply(&mut config).py()?;
        config.validate().py()?;
        Ok((config, weights))
    }
}

pub(crate) fn build(
    py: Python<'_>,
    config: LstmConfig,
    weights: LstmWeights,
    convention: Convention,
    device: &str,
    backend: Option<&str>,
    adapter: Option<&str>,
) -> PyResult<Model> {
    let engine = match device.to_ascii_lowercase().as_str() {
        "gpu" => {
            let context = context(py, backend, adapter)?;
            let lstm = py
                .detach(|| Lstm::with_cache(context.pipeline_cache(), &context.queue, &config, &weights))
                .py()?;
            Engine::Gpu {
                lstm: Arc::new(lstm),
                context,
            }
        }
        "cpu" => {
            if backend.is_some() || adapter.is_some() {
                return Err(PyValueError::new_err(
                    "backend and adapter choose a GPU; device='cpu' runs the CPU reference",
                ));
            }
            Engine::Cpu(Arc::new(CpuLstm::new(&config, &weights).py()?))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "device: unknown '{other}'; expected 'gpu' or 'cpu'"
            )))
        }
    };
    Ok(Model {
        engine,
        convention,
        initial: None,
        seq_lens: None,
    })
}

/// The model of a state_dict for the options' cell: a mapping of names to arrays (numpy
/// arrays, CPU torch tensors, lists) in PyTorch's names or ONNX's.
#[allow(clippy::too_many_arguments)]
pub(crate) fn model_from_state_dict(
    py: Python<'_>,
    state_dict: &Bound<'_, PyAny>,
    options: &Options,
    convention: Option<&str>,
    device: &str,
    backend: Option<&str>,
    adapter: Option<&str>,
    weights_precision: &str,
) -> PyResult<Arc<Model>> {
    let items = state_dict
        .call_method0("items")
        .map_err(|_| PyValueError::new_err("state_dict: expected a mapping of names to arrays"))?;
    let mut tensors = Vec::new();
    for item in items.try_iter()? {
        let (name, value): (String, Bound<'_, PyAny>) = item?.extract()?;
        let tensor = tensor_of(&format!("state_dict['{name}']"), &value)?;
        tensors.push((name, tensor));
    }
    let (weights, convention) = LstmWeights::from_tensors(&tensors, convention_of(convention)?).py()?;
    let (mut config, weights) = options.config(weights)?;
    config.weights_precision = precision_of(weights_precision)?;
    let model = build(py, config, weights, convention, device, backend, adapter)?;
    Ok(Arc::new(model))
}

/// Where `load` reads a model: the file's own keyword arguments.
pub(crate) struct FileOptions<'a, 'py> {
    pub(crate) node: Option<&'a Bound<'py, PyAny>>,
    pub(crate) convention: Option<&'a str>,
    pub(crate) max_file_bytes: Option<u64>,
    pub(crate) max_folded_bytes: Option<u64>,
}

/// The model of a `.safetensors` file or an `.onnx` model's nodes, for the options' cell.
#[allow(clippy::too_many_arguments)]
pub(crate) fn model_from_file(
    py: Python<'_>,
    path: std::path::PathBuf,
    files: FileOptions<'_, '_>,
    options: &Options,
    device: &str,
    backend: Option<&str>,
    adapter: Option<&str>,
    weights_precision: &str,
) -> PyResult<Arc<Model>> {
    let FileOptions {
        node,
        convention,
        max_file_bytes,
        max_folded_bytes,
    } = files;
    let limits = ReadLimits {
        max_bytes: max_file_bytes.unwrap_or(ReadLimits::DEFAULT.max_bytes),
        max_folded_bytes: max_folded_bytes.unwrap_or(ReadLimits::DEFAULT.max_folded_bytes),
    };
    let nodes: Vec<String> = match node {
        None => Vec::new(),
        Some(n) => match n.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => n
                .extract::<Vec<String>>()
                .map_err(|_| PyValueError::new_err("node: expected a node name or a list of names"))?,
        },
    };
    let convention = convention_of(convention)?;
    let precision = precision_of(weights_precision)?;
    if py.detach(|| is_onnx_file(&path, limits)).py()? {
        if convention == Some(Convention::PyTorch) {
            return Err(PyValueError::new_err(format!(
                "convention: {} is an .onnx model (ONNX convention), not PyTorch's",
                path.display()
            )));
        }
        let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
        let lstm = py
            .detach(|| OnnxModel::open_with(&path, limits).and_then(|m| m.load(&names)))
            .py()?;
        options.agree_with(&lstm.config)?;
        let mut config = lstm.config;
        config.weights_precision = precision;
        let mut model = build(
            py,
            config,
            lstm.weights,
            Convention::Onnx,
            device,
            backend,
            adapter,
        )?;
        model.initial = lstm.initial;
        model.seq_lens = lstm.seq_lens;
        return Ok(Arc::new(model));
    }
    if !nodes.is_empty() {
        return Err(PyValueError::new_err(format!(
            "node: {} is not an .onnx model",
            path.display()
        )));
    }
    let (weights, convention) = py
        .detach(|| LstmWeights::load_with(&path, convention, limits))
        .py()?;
    let (mut config, weights) = options.config(weights)?;
    config.weights_precision = precision;
    let model = build(py, config, weights, convention, device, backend, adapter)?;
    Ok(Arc::new(model))
}

/// Run the whole sequence: `(y, (h_n, c_n))` for an LSTM, `(y, h_n)` for a GRU or an RNN.
pub(crate) fn call<'py>(
    model: &Model,
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    hx: Option<&Bound<'py, PyAny>>,
    seq_lens: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let x = tensor_of("x", x)?;
    let dims = model.dims(&x)?;
    let initial = match hx {
        Some(hx) => Some(model.state_of(hx, dims.batch)?),
        None => model.initial.clone(),
    };
    let lens = match seq_lens {
        Some(l) => Some(lengths_of("seq_lens", l)?),
        None => model.seq_lens.clone(),
    };
    let out = py
        .detach(|| model.forward(&x, initial.as_ref(), lens.as_deref()))
        .py()?;
    let y = model.y_to_py(py, out.y)?;
    let state = model.state_to_py(
        py,
        State {
            h: out.h_n,
            c: out.c_n,
        },
    )?;
    PyTuple::new(py, [y.into_any(), state])
}

/// Streams for `batch` sequences fed chunk by chunk, from `hx` or zeros.
pub(crate) fn open_stream(
    model: &Arc<Model>,
    py: Python<'_>,
    batch: usize,
    hx: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyStream> {
    let model = model.clone();
    if batch == 0 {
        return Err(PyValueError::new_err("batch: must be at least 1"));
    }
    let initial = hx.map(|hx| model.state_of(hx, batch)).transpose()?;
    // Zeros on the GPU are made there, after its limits are checked.
    let state = py
        .detach(|| -> wgpu_lstm::Result<StreamState> {
            Ok(match (&model.engine, initial) {
                (Engine::Gpu { lstm, .. }, None) => StreamState::Gpu(lstm.new_state(batch)?),
                (Engine::Gpu { lstm, .. }, Some(s)) => StreamState::Gpu(lstm.start_stream(&s)?),
                (Engine::Cpu(cpu), s) => {
                    let s = match s {
                        Some(s) => s,
                        None => State::zeros(cpu.config(), batch)?,
                    };
                    StreamState::Cpu(cpu.start_stream(&s)?)
                }
            })
        })
        .py()?;
    Ok(PyStream {
        model,
        batch,
        state: Mutex::new(state),
    })
}
