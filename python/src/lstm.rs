//! `wgpu_lstm.LSTM`: built from a state_dict or a model file, called like `torch.nn.LSTM`.

use super::PyResult;
use crate::{convert::*, model::*, stream::*};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use wgpu_lstm::onnx::{is_onnx_file, OnnxModel};
use wgpu_lstm::Convention;
use wgpu_lstm::{
    CpuLstm, Direction, GateOptions, Layout, Lstm, LstmConfig, LstmForward, LstmWeights, ReadLimits, State,
};

/// The ONNX attributes a model of weights alone takes as keyword arguments.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) batch_first: Option<bool>,
    pub(crate) direction: Option<String>,
    pub(crate) gate: GateOptions,
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
        if let Some(d) = &self.direction {
            if direction_of(d)? != config.direction {
                return Err(contradiction(
                    "direction",
                    d.clone(),
                    format!("{:?}", config.direction),
                ));
            }
        }
        if let Some(c) = self.gate.contradiction(config).py()? {
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

    /// The configuration of `weights` with these options.
    fn config(&self, weights: LstmWeights) -> PyResult<(LstmConfig, LstmWeights)> {
        let weights = match &self.direction {
            Some(d) => weights.with_direction(direction_of(d)?).py()?,
            None => weights,
        };
        let layout = if self.batch_first == Some(true) {
            Layout::BatchMajor
        } else {
            Layout::SeqMajor
        };
        let mut config = weights.config(layout);
        self.gate.apply(&mut config).py()?;
        config.validate().py()?;
        Ok((config, weights))
    }
}

/// A stacked LSTM on a GPU (or the CPU reference), shaped like `torch.nn.LSTM`: build it with
/// `LSTM.from_state_dict` or `LSTM.load`, call it on `x` to get `(y, (h_n, c_n))`.
#[pyclass(frozen, module = "wgpu_lstm", name = "LSTM")]
pub(crate) struct PyLstm {
    pub(crate) model: Arc<Model>,
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
                lstm: Box::new(lstm),
                context,
            }
        }
        "cpu" => {
            if backend.is_some() || adapter.is_some() {
                return Err(PyValueError::new_err(
                    "backend and adapter choose a GPU; device='cpu' runs the CPU reference",
                ));
            }
            Engine::Cpu(CpuLstm::new(&config, &weights).py()?)
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

#[pymethods]
impl PyLstm {
    /// From a state_dict: a mapping of names to arrays (numpy arrays, CPU torch tensors, lists).
    /// PyTorch's names (`weight_ih_l0`, `bias_hh_l1_reverse`, `weight_hr_l0`, with any prefix)
    /// or an ONNX LSTM's (`W`, `R`, `B`, `P`) are told apart unless `convention` says which.
    #[staticmethod]
    #[pyo3(signature = (state_dict, *, batch_first=false, convention=None, direction=None,
        clip=None, input_forget=false, activations=None, activation_alpha=None,
        activation_beta=None, device="gpu", backend=None, adapter=None, weights_precision="f32"))]
    #[allow(clippy::too_many_arguments)]
    fn from_state_dict(
        py: Python<'_>,
        state_dict: &Bound<'_, PyAny>,
        batch_first: bool,
        convention: Option<&str>,
        direction: Option<String>,
        clip: Option<f32>,
        input_forget: bool,
        activations: Option<Vec<String>>,
        activation_alpha: Option<Vec<f32>>,
        activation_beta: Option<Vec<f32>>,
        device: &str,
        backend: Option<&str>,
        adapter: Option<&str>,
        weights_precision: &str,
    ) -> PyResult<Self> {
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
        let options = Options {
            batch_first: Some(batch_first),
            direction,
            gate: GateOptions {
                clip,
                input_forget,
                activations,
                activation_alpha: activation_alpha.unwrap_or_default(),
                activation_beta: activation_beta.unwrap_or_default(),
            },
        };
        let (mut config, weights) = options.config(weights)?;
        config.weights_precision = precision_of(weights_precision)?;
        let model = build(py, config, weights, convention, device, backend, adapter)?;
        Ok(PyLstm {
            model: Arc::new(model),
        })
    }

    /// From a file: `.safetensors` (either convention, with the options of `from_state_dict`)
    /// or an `.onnx` model (told apart by content), whose LSTM node gives every attribute
    /// (options that repeat them are accepted, ones that contradict them are errors); `node`
    /// picks one node by name, or a list of names stacks nodes as layers.
    #[staticmethod]
    #[pyo3(signature = (path, *, node=None, batch_first=None, convention=None, direction=None,
        clip=None, input_forget=false, activations=None, activation_alpha=None,
        activation_beta=None, device="gpu", backend=None, adapter=None, weights_precision="f32",
        max_file_bytes=None, max_folded_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn load(
        py: Python<'_>,
        path: std::path::PathBuf,
        node: Option<&Bound<'_, PyAny>>,
        batch_first: Option<bool>,
        convention: Option<&str>,
        direction: Option<String>,
        clip: Option<f32>,
        input_forget: bool,
        activations: Option<Vec<String>>,
        activation_alpha: Option<Vec<f32>>,
        activation_beta: Option<Vec<f32>>,
        device: &str,
        backend: Option<&str>,
        adapter: Option<&str>,
        weights_precision: &str,
        max_file_bytes: Option<u64>,
        max_folded_bytes: Option<u64>,
    ) -> PyResult<Self> {
        let limits = ReadLimits {
            max_bytes: max_file_bytes.unwrap_or(ReadLimits::DEFAULT.max_bytes),
            max_folded_bytes: max_folded_bytes.unwrap_or(ReadLimits::DEFAULT.max_folded_bytes),
        };
        let options = Options {
            batch_first,
            direction,
            gate: GateOptions {
                clip,
                input_forget,
                activations,
                activation_alpha: activation_alpha.unwrap_or_default(),
                activation_beta: activation_beta.unwrap_or_default(),
            },
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
            return Ok(PyLstm {
                model: Arc::new(model),
            });
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
        Ok(PyLstm {
            model: Arc::new(model),
        })
    }

    /// Run the whole sequence: `x` is (T, B, I), or (B, T, I) with batch_first; `hx` an optional
    /// `(h0, c0)`; `seq_lens` optional lengths per batch element (0..=T; a sequence of length
    /// 0 gives zero outputs and final states). Returns
    /// `(y, (h_n, c_n))` as float32 numpy arrays in the convention's shapes.
    #[pyo3(signature = (x, hx=None, seq_lens=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        hx: Option<&Bound<'py, PyAny>>,
        seq_lens: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let model = &self.model;
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
        PyTuple::new(py, [y.into_any(), state.into_any()])
    }

    /// Streams for `batch` sequences fed chunk by chunk, their state kept by the engine (on the
    /// GPU for device='gpu'), starting from `hx` or zeros.
    #[pyo3(signature = (batch, hx=None))]
    fn stream(&self, py: Python<'_>, batch: usize, hx: Option<&Bound<'_, PyAny>>) -> PyResult<PyStream> {
        let model = self.model.clone();
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

    /// "gpu" or "cpu".
    #[getter]
    fn device(&self) -> &'static str {
        match self.model.engine {
            Engine::Gpu { .. } => "gpu",
            Engine::Cpu(_) => "cpu",
        }
    }

    /// The GPU's backend ("vulkan", "gl", "metal", "dx12"), or None on the CPU.
    #[getter]
    fn backend(&self) -> Option<String> {
        match &self.model.engine {
            Engine::Gpu { context, .. } => {
                Some(format!("{:?}", context.adapter_info().backend).to_ascii_lowercase())
            }
            Engine::Cpu(_) => None,
        }
    }

    /// The adapter in one line (name, backend, type, driver), or "CPU reference".
    #[getter]
    fn adapter(&self) -> String {
        match &self.model.engine {
            Engine::Gpu { context, .. } => context.describe(),
            Engine::Cpu(_) => "CPU reference".into(),
        }
    }

    #[getter]
    fn input_size(&self) -> usize {
        self.model.config().input_size
    }

    #[getter]
    fn hidden_size(&self) -> usize {
        self.model.config().hidden_size
    }

    #[getter]
    fn num_layers(&self) -> usize {
        self.model.config().num_layers
    }

    #[getter]
    fn proj_size(&self) -> usize {
        self.model.config().proj_size.unwrap_or(0)
    }

    #[getter]
    fn bidirectional(&self) -> bool {
        self.model.config().direction == Direction::Bidirectional
    }

    /// "forward", "reverse" or "bidirectional".
    #[getter]
    fn direction(&self) -> String {
        format!("{:?}", self.model.config().direction).to_ascii_lowercase()
    }

    #[getter]
    fn batch_first(&self) -> bool {
        self.model.config().layout == Layout::BatchMajor
    }

    /// "pytorch" or "onnx": the shapes of states and y.
    #[getter]
    fn convention(&self) -> &'static str {
        self.model.convention.name()
    }

    /// "f32" or "f16".
    #[getter]
    fn weights_precision(&self) -> &'static str {
        self.model.config().weights_precision.name()
    }

    /// Counters of the latest forward or stream step on the GPU (dispatches, submits, readbacks,
    /// bytes, kernels, GPU time); None on the CPU.
    fn last_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Engine::Gpu { lstm, .. } = &self.model.engine else {
            return Ok(None);
        };
        let stats = lstm.last_stats();
        let d = PyDict::new(py);
        d.set_item("dispatches", stats.dispatches)?;
        d.set_item("submits", stats.submits)?;
        d.set_item("readbacks", stats.readbacks)?;
        d.set_item("bytes_uploaded", stats.bytes_uploaded)?;
        d.set_item("bytes_downloaded", stats.bytes_downloaded)?;
        d.set_item("record_us", stats.record_ns as f64 / 1e3)?;
        d.set_item("gpu_ms", stats.gpu_ns.map(|ns| ns as f64 / 1e6))?;
        d.set_item("kernels", stats.variants.to_string())?;
        Ok(Some(d))
    }

    fn __repr__(&self) -> String {
        let c = self.model.config();
        let mut extra = String::new();
        if let Some(p) = c.proj_size {
            extra += &format!(", proj_size={p}");
        }
        if c.direction != Direction::Forward {
            extra += &format!(", direction='{}'", self.direction());
        }
        if c.layout == Layout::BatchMajor {
            extra += ", batch_first=True";
        }
        format!(
            "LSTM({}, {}, num_layers={}{extra}, convention='{}', device='{}')",
            c.input_size,
            c.hidden_size,
            c.num_layers,
            self.model.convention,
            self.device()
        )
    }
}
