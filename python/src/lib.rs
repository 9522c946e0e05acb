//! `wgpu_lstm._native`: the engine for Python, re-exported by the `wgpu_lstm` package
//! (`python/python/wgpu_lstm/__init__.py`, typed in `__init__.pyi`).
//!
//! Arrays cross as float32 numpy arrays in the shapes of the model's convention (PyTorch's or
//! ONNX's); the GIL is released while the engine works; engine errors become `ValueError`,
//! `OSError` (and its subclasses) or `wgpu_lstm.DeviceError` with the engine's message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyMemoryError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use wgpu_lstm::bench::{time_shape, AdapterReport, BenchReport, Machine, Settings, Shape};
use wgpu_lstm::conform::{suite, Kernels, Verdict};
use wgpu_lstm::gpu::{enumerate_adapters, supports_compute, AdapterRequest, GpuContext, LstmState};
use wgpu_lstm::onnx::{is_onnx_file, OnnxModel};
use wgpu_lstm::{Convention, Dims};
use wgpu_lstm::{
    CpuLstm, Direction, Error, GateOptions, Layout, Lstm, LstmConfig, LstmForward, LstmWeights, Output,
    Precision, ReadLimits, State, Tensor,
};

create_exception!(
    wgpu_lstm,
    DeviceError,
    PyRuntimeError,
    "No usable GPU adapter, a device that could not be opened, a request beyond the device's \
     limits, or an error the GPU reported."
);

type PyResult<T> = pyo3::PyResult<T>;

/// The engine's error as the Python exception that fits it.
fn py_err(e: Error) -> PyErr {
    let message = e.to_string();
    match &e {
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
            _ => PyOSError::new_err(message),
        },
        Error::FileTooLarge { .. } => PyOSError::new_err(message),
        Error::HostAllocation { .. } => PyMemoryError::new_err(message),
        Error::NoAdapter { .. }
        | Error::DeviceRequest { .. }
        | Error::DeviceLimit { .. }
        | Error::Buffer { .. }
        | Error::Gpu { .. } => DeviceError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

trait OrPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for wgpu_lstm::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}

// ---------------------------------------------------------------------------------------------
// Arrays

/// Any array-like (numpy, lists, CPU torch tensors) as a float32 tensor; float16 and float64 are
/// converted, other dtypes refused.
fn tensor_of(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let py = value.py();
    let np = py.import("numpy")?;
    let array = np.call_method1("asarray", (value,))?;
    let dtype = array.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if kind != "f" {
        return Err(PyValueError::new_err(format!(
            "{what}: dtype {} is not a floating-point type (float32 is used; float16 and float64 \
             are converted)",
            dtype.str()?
        )));
    }
    let array = np.call_method1("ascontiguousarray", (array, "float32"))?;
    let array = array.cast_into::<PyArrayDyn<f32>>()?;
    let readonly = array.readonly();
    let shape = readonly.shape().to_vec();
    let data = readonly.as_slice()?.to_vec();
    Tensor::new(shape, data).py()
}

fn numpy_of<'py>(py: Python<'py>, tensor: Tensor) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let shape = tensor.shape().to_vec();
    let array = ArrayD::from_shape_vec(IxDyn(&shape), tensor.into_data())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py))
}

/// Sequence lengths from any sequence of non-negative integers.
fn lengths_of(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let np = value.py().import("numpy")?;
    let array = np.call_method1("asarray", (value,))?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind != "i" && kind != "u" {
        return Err(PyValueError::new_err(format!(
            "{what}: expected integers, got dtype {}",
            array.getattr("dtype")?.str()?
        )));
    }
    let ndim: usize = array.getattr("ndim")?.extract()?;
    if ndim != 1 {
        return Err(PyValueError::new_err(format!(
            "{what}: expected a 1-D sequence of lengths, got {ndim} dimensions"
        )));
    }
    let values: Vec<i64> = array.call_method0("tolist")?.extract()?;
    values
        .into_iter()
        .map(|v| {
            usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{what}: length {v} is negative")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Devices

fn backends_of(name: Option<&str>) -> PyResult<Option<wgpu::Backends>> {
    let Some(name) = name else { return Ok(None) };
    let backend = match name.to_ascii_lowercase().as_str() {
        "vulkan" => wgpu::Backends::VULKAN,
        "gl" | "opengl" | "gles" => wgpu::Backends::GL,
        "metal" => wgpu::Backends::METAL,
        "dx12" | "d3d12" => wgpu::Backends::DX12,
        other => {
            return Err(PyValueError::new_err(format!(
                "backend: unknown '{other}'; expected vulkan, gl, metal or dx12"
            )))
        }
    };
    Ok(Some(backend))
}

/// One device per adapter request, shared by the models built on it (with its compiled kernels
/// and autotune choices); the request's empty parts come from WGPU_BACKEND / WGPU_ADAPTER_NAME.
fn context(py: Python<'_>, backend: Option<&str>, adapter: Option<&str>) -> PyResult<Arc<GpuContext>> {
    /// Backend and adapter name asked for.
    type Key = (Option<String>, Option<String>);
    static CONTEXTS: OnceLock<Mutex<HashMap<Key, Arc<GpuContext>>>> = OnceLock::new();
    let request = AdapterRequest {
        backends: backends_of(backend)?,
        name: adapter.map(String::from),
    }
    .or(AdapterRequest::from_env());
    let key = (request.backends.map(|b| format!("{b:?}")), request.name.clone());
    py.detach(|| {
        let mut contexts = CONTEXTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(ctx) = contexts.get(&key) {
            return Ok(ctx.clone());
        }
        let ctx = Arc::new(GpuContext::with_request(&request)?);
        contexts.insert(key, ctx.clone());
        Ok(ctx)
    })
    .py()
}

fn adapter_dict<'py>(py: Python<'py>, info: &wgpu::AdapterInfo) -> PyResult<Bound<'py, PyDict>> {
    let report = AdapterReport::of(info);
    let d = PyDict::new(py);
    d.set_item("name", report.name)?;
    d.set_item("backend", report.backend.to_ascii_lowercase())?;
    d.set_item("device_type", report.device_type)?;
    d.set_item("driver", report.driver)?;
    d.set_item("driver_info", report.driver_info)?;
    d.set_item("vendor", report.vendor)?;
    d.set_item("device", report.device)?;
    Ok(d)
}

/// Every adapter wgpu sees that can run compute shaders, as dicts (name, backend, device_type,
/// driver, driver_info, vendor, device).
#[pyfunction]
#[pyo3(signature = (backend=None))]
fn adapters<'py>(py: Python<'py>, backend: Option<&str>) -> PyResult<Bound<'py, PyList>> {
    let backends = backends_of(backend)?;
    let infos: Vec<wgpu::AdapterInfo> = py.detach(|| {
        let (_instance, adapters) = enumerate_adapters(backends);
        adapters
            .iter()
            .filter(|a| supports_compute(a))
            .map(|a| a.get_info())
            .collect()
    });
    let list = PyList::empty(py);
    for info in &infos {
        list.append(adapter_dict(py, info)?)?;
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// The model

enum Engine {
    Gpu {
        lstm: Box<Lstm>,
        context: Arc<GpuContext>,
    },
    Cpu(CpuLstm),
}

struct Model {
    engine: Engine,
    convention: Convention,
    /// The initial state and lengths an .onnx model holds as constants, used when a call gives none.
    initial: Option<State>,
    seq_lens: Option<Vec<usize>>,
}

impl Model {
    fn config(&self) -> &LstmConfig {
        match &self.engine {
            Engine::Gpu { lstm, .. } => lstm.config(),
            Engine::Cpu(cpu) => cpu.config(),
        }
    }

    fn forward(
        &self,
        x: &Tensor,
        initial: Option<&State>,
        lens: Option<&[usize]>,
    ) -> wgpu_lstm::Result<Output> {
        match &self.engine {
            Engine::Gpu { lstm, .. } => lstm.forward_with_lens(x, initial, lens),
            Engine::Cpu(cpu) => cpu.forward_with_lens(x, initial, lens),
        }
    }

    /// B and T of an input, in this model's layout.
    fn dims(&self, x: &Tensor) -> PyResult<Dims> {
        let config = self.config();
        match x.shape() {
            &[a, b, i] if i == config.input_size => Ok(match config.layout {
                Layout::SeqMajor => Dims { seq_len: a, batch: b },
                Layout::BatchMajor => Dims { seq_len: b, batch: a },
            }),
            got => {
                let expected = match config.layout {
                    Layout::SeqMajor => "(T, B, I)",
                    Layout::BatchMajor => "(B, T, I)",
                };
                Err(PyValueError::new_err(format!(
                    "x: expected shape {expected} with I = {}, got {got:?}",
                    config.input_size
                )))
            }
        }
    }

    /// (h0, c0) in the convention's file shapes, for `batch` sequences, into the engine's state.
    fn state_of(&self, hx: &Bound<'_, PyAny>, batch: usize) -> PyResult<State> {
        let pair = hx
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| PyValueError::new_err("hx: expected a pair (h0, c0)"))?;
        let config = self.config();
        let read = |index: usize, name: &str, width: usize| -> PyResult<Tensor> {
            let tensor = tensor_of(name, &pair.get_item(index)?)?;
            let expected = self.convention.state_shape(config, batch, width);
            if tensor.shape() != expected.as_slice() {
                return Err(py_err(Error::shape(name, &expected, tensor.shape())));
            }
            self.convention.state_from_file(config.layout, tensor).py()
        };
        let h = read(0, "h0", config.output_size())?;
        let c = read(1, "c0", config.hidden_size)?;
        Ok(State { h, c })
    }

    fn state_to_py<'py>(&self, py: Python<'py>, state: State) -> PyResult<Bound<'py, PyTuple>> {
        let layout = self.config().layout;
        let h = numpy_of(py, self.convention.state_to_file(layout, state.h).py()?)?;
        let c = numpy_of(py, self.convention.state_to_file(layout, state.c).py()?)?;
        PyTuple::new(py, [h, c])
    }

    fn y_to_py<'py>(&self, py: Python<'py>, y: Tensor) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        numpy_of(py, self.convention.y_to_file(self.config(), y).py()?)
    }
}

fn direction_of(name: &str) -> PyResult<Direction> {
    match name.to_ascii_lowercase().as_str() {
        "forward" => Ok(Direction::Forward),
        "reverse" => Ok(Direction::Reverse),
        "bidirectional" => Ok(Direction::Bidirectional),
        other => Err(PyValueError::new_err(format!(
            "direction: unknown '{other}'; expected forward, reverse or bidirectional"
        ))),
    }
}

fn precision_of(name: &str) -> PyResult<Precision> {
    match name {
        "f32" | "float32" => Ok(Precision::F32),
        "f16" | "float16" => Ok(Precision::F16),
        other => Err(PyValueError::new_err(format!(
            "weights_precision: unknown '{other}'; expected f32 or f16"
        ))),
    }
}

fn convention_of(name: Option<&str>) -> PyResult<Option<Convention>> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("pytorch") | Some("torch") => Ok(Some(Convention::PyTorch)),
        Some("onnx") => Ok(Some(Convention::Onnx)),
        Some(other) => Err(PyValueError::new_err(format!(
            "convention: unknown '{other}'; expected pytorch or onnx"
        ))),
    }
}

/// The ONNX attributes a model of weights alone takes as keyword arguments.
#[derive(Default)]
struct Options {
    batch_first: Option<bool>,
    direction: Option<String>,
    gate: GateOptions,
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
struct PyLstm {
    model: Arc<Model>,
}

fn build(
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
        max_file_bytes=None))]
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
    ) -> PyResult<Self> {
        let limits = ReadLimits {
            max_bytes: max_file_bytes.unwrap_or(ReadLimits::DEFAULT.max_bytes),
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
    /// `(h0, c0)`; `seq_lens` optional lengths per batch element (1..=T). Returns
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

enum StreamState {
    Gpu(LstmState),
    Cpu(State),
}

/// A batch of streams fed chunk by chunk (`LSTM.stream`); each stream's state carries over from
/// one `step` to the next.
#[pyclass(frozen, module = "wgpu_lstm", name = "Stream")]
struct PyStream {
    model: Arc<Model>,
    batch: usize,
    state: Mutex<StreamState>,
}

#[pymethods]
impl PyStream {
    /// Feed the next chunk, (T, B, I) or (B, T, I) with batch_first; `lens[b]` in 0..=T is
    /// stream b's steps in this chunk (0 leaves it unchanged). Returns the chunk's y.
    #[pyo3(signature = (x, lens=None))]
    fn step<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        lens: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let model = &self.model;
        let x = tensor_of("x", x)?;
        let dims = model.dims(&x)?;
        if dims.batch != self.batch {
            return Err(PyValueError::new_err(format!(
                "x: a chunk for {} streams, this has {}",
                self.batch, dims.batch
            )));
        }
        let lens = lens.map(|l| lengths_of("lens", l)).transpose()?;
        let y = py
            .detach(|| {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                match (&model.engine, &mut *state) {
                    (Engine::Gpu { lstm, .. }, StreamState::Gpu(s)) => {
                        lstm.forward_stream(&x, s, lens.as_deref())
                    }
                    (Engine::Cpu(cpu), StreamState::Cpu(s)) => {
                        LstmForward::forward_stream(cpu, &x, s, lens.as_deref())
                    }
                    _ => unreachable!("a stream's state is of its engine's kind"),
                }
            })
            .py()?;
        model.y_to_py(py, y)
    }

    /// Zero the state of the listed streams (every stream without a list), for new sequences.
    #[pyo3(signature = (streams=None))]
    fn reset(&self, py: Python<'_>, streams: Option<Vec<usize>>) -> PyResult<()> {
        let all: Vec<usize> = (0..self.batch).collect();
        let streams = streams.unwrap_or(all);
        if let Some(bad) = streams.iter().find(|&&s| s >= self.batch) {
            return Err(PyValueError::new_err(format!(
                "streams: {bad} is not one of the {} streams",
                self.batch
            )));
        }
        let model = &self.model;
        py.detach(|| {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            match (&model.engine, &mut *state) {
                (Engine::Gpu { lstm, .. }, StreamState::Gpu(s)) => s.reset_streams(lstm.queue(), &streams),
                (_, StreamState::Cpu(s)) => {
                    s.h = zero_streams(&s.h, &streams)?;
                    s.c = zero_streams(&s.c, &streams)?;
                    Ok(())
                }
                _ => unreachable!("a stream's state is of its engine's kind"),
            }
        })
        .py()
    }

    /// The streams' `(h, c)` now, in the convention's shapes.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let model = &self.model;
        let state = py
            .detach(|| {
                let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                match (&model.engine, &*state) {
                    (Engine::Gpu { lstm, .. }, StreamState::Gpu(s)) => lstm.read_state(s),
                    (_, StreamState::Cpu(s)) => Ok(s.clone()),
                    _ => unreachable!("a stream's state is of its engine's kind"),
                }
            })
            .py()?;
        model.state_to_py(py, state)
    }

    #[getter]
    fn batch(&self) -> usize {
        self.batch
    }
}

/// A `[L·D, B, W]` state with rows `[slot, b, :]` zeroed for each listed stream b.
fn zero_streams(t: &Tensor, streams: &[usize]) -> wgpu_lstm::Result<Tensor> {
    let shape = t.shape().to_vec();
    let (batch, width) = (shape[1], shape[2]);
    let mut data = t.data().to_vec();
    for slot in 0..shape[0] {
        for &b in streams {
            data[(slot * batch + b) * width..][..width].fill(0.0);
        }
    }
    Tensor::new(shape, data)
}

// ---------------------------------------------------------------------------------------------
// Conformance and benchmarks

/// A conformance run: counts, and one dict per run (case, kernels, verdict, errors).
#[pyclass(frozen, module = "wgpu_lstm", name = "ConformResult")]
struct ConformResult {
    #[pyo3(get)]
    adapter: String,
    #[pyo3(get)]
    passed: usize,
    #[pyo3(get)]
    failed: usize,
    #[pyo3(get)]
    not_applicable: usize,
    /// The largest |gpu − cpu| / (atol + rtol·|cpu|) of any run: at most 1 passes.
    #[pyo3(get)]
    worst_ratio: f32,
    runs: Vec<RunRow>,
}

struct RunRow {
    case: usize,
    seed: u64,
    config: String,
    kernels: Option<String>,
    verdict: &'static str,
    max_abs_error: Option<f32>,
    worst_ratio: Option<f32>,
    error: Option<String>,
}

#[pymethods]
impl ConformResult {
    /// True when no run failed.
    #[getter]
    fn ok(&self) -> bool {
        self.failed == 0
    }

    fn __bool__(&self) -> bool {
        self.ok()
    }

    /// One dict per run: case, seed, config, kernels, verdict ("pass", "fail", "n/a"),
    /// max_abs_error, worst_ratio, error.
    #[getter]
    fn runs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.runs {
            let d = PyDict::new(py);
            d.set_item("case", r.case)?;
            d.set_item("seed", r.seed)?;
            d.set_item("config", &r.config)?;
            d.set_item("kernels", &r.kernels)?;
            d.set_item("verdict", r.verdict)?;
            d.set_item("max_abs_error", r.max_abs_error)?;
            d.set_item("worst_ratio", r.worst_ratio)?;
            d.set_item("error", &r.error)?;
            list.append(d)?;
        }
        Ok(list)
    }

    fn __repr__(&self) -> String {
        format!(
            "ConformResult(passed={}, failed={}, not_applicable={}, worst_ratio={:.3}, adapter='{}')",
            self.passed, self.failed, self.not_applicable, self.worst_ratio, self.adapter
        )
    }
}

/// GPU-vs-CPU conformance on an adapter: `cases` cases from `seed` (the named strata first, then
/// random ones), each with every kernel combination the engine could run it with, or only the
/// autotune's pick with `every_variant=False`. The same cases as `wgpu-lstm conform`.
#[pyfunction]
#[pyo3(signature = (cases=50, seed=0, *, every_variant=true, backend=None, adapter=None))]
fn conform(
    py: Python<'_>,
    cases: usize,
    seed: u64,
    every_variant: bool,
    backend: Option<&str>,
    adapter: Option<&str>,
) -> PyResult<ConformResult> {
    if cases == 0 {
        return Err(PyValueError::new_err("cases: must be at least 1"));
    }
    let ctx = context(py, backend, adapter)?;
    let kernels = if every_variant {
        Kernels::EveryVariant
    } else {
        Kernels::Autotuned
    };
    py.detach(|| -> wgpu_lstm::Result<ConformResult> {
        let mut result = ConformResult {
            adapter: ctx.describe(),
            passed: 0,
            failed: 0,
            not_applicable: 0,
            worst_ratio: 0.0,
            runs: Vec::new(),
        };
        for (k, (_, case)) in suite(cases, seed, &[])?.into_iter().enumerate() {
            let row = |kernels: Option<String>, verdict: Verdict| RunRow {
                case: k,
                seed: case.seed,
                config: case.describe(),
                kernels,
                verdict: verdict.name(),
                max_abs_error: None,
                worst_ratio: None,
                error: None,
            };
            let prepared = match case.prepare() {
                Ok(p) => p,
                Err(e) => {
                    result.failed += 1;
                    result.runs.push(RunRow {
                        error: Some(format!("the CPU reference could not run: {e}")),
                        ..row(None, Verdict::Fail)
                    });
                    continue;
                }
            };
            for requested in prepared.requests(kernels) {
                let outcome = prepared.run(ctx.pipeline_cache(), &ctx.queue, requested);
                let verdict = Verdict::of(requested, &outcome);
                match verdict {
                    Verdict::Pass => result.passed += 1,
                    Verdict::Fail => result.failed += 1,
                    Verdict::NotApplicable => result.not_applicable += 1,
                }
                result.runs.push(match outcome {
                    Ok(check) => {
                        let c = check.comparison;
                        result.worst_ratio = result.worst_ratio.max(c.worst_ratio);
                        RunRow {
                            max_abs_error: Some(c.max_abs_error),
                            worst_ratio: Some(c.worst_ratio),
                            ..row(Some(check.variants.to_string()), verdict)
                        }
                    }
                    Err(e) => RunRow {
                        error: Some(e.to_string()),
                        ..row(requested.map(|v| v.to_string()), verdict)
                    },
                });
            }
        }
        Ok(result)
    })
    .py()
}

/// Time forwards of each shape, a (B, T, I, H) or (B, T, I, H, L) tuple, on an adapter: `warmup`
/// untimed forwards then `reps` timed ones, next to the CPU reference. Returns the report as a
/// dict (schema wgpu-lstm-bench/2, as `wgpu-lstm bench --json` writes it).
#[pyfunction]
#[pyo3(signature = (shapes, *, warmup=2, reps=10, bidirectional=false, weights_precision="f32",
    backend=None, adapter=None))]
#[pyo3(name = "bench")]
#[allow(clippy::too_many_arguments)]
fn bench_shapes<'py>(
    py: Python<'py>,
    shapes: Vec<Vec<usize>>,
    warmup: usize,
    reps: usize,
    bidirectional: bool,
    weights_precision: &str,
    backend: Option<&str>,
    adapter: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let precision = precision_of(weights_precision)?;
    if reps == 0 {
        return Err(PyValueError::new_err("reps: must be at least 1"));
    }
    let shapes = shapes
        .into_iter()
        .map(|s| match s[..] {
            [batch, seq, input, hidden] | [batch, seq, input, hidden, _] => Ok(Shape {
                batch,
                seq,
                input,
                hidden,
                layers: s.get(4).copied().unwrap_or(1),
                bidirectional,
                weights_precision: precision.name().into(),
            }),
            _ => Err(PyValueError::new_err(format!(
                "shapes: {s:?} is not (B, T, I, H) or (B, T, I, H, L)"
            ))),
        })
        .collect::<PyResult<Vec<_>>>()?;
    let ctx = context(py, backend, adapter)?;
    let settings = Settings {
        warmup,
        reps,
        variants: None,
    };
    let report = py
        .detach(|| -> wgpu_lstm::Result<BenchReport> {
            let results = shapes
                .iter()
                .map(|shape| time_shape(&ctx, shape, &settings, &|| {}))
                .collect::<wgpu_lstm::Result<Vec<_>>>()?;
            Ok(BenchReport::new(
                Machine::detect(),
                AdapterReport::of(&ctx.adapter_info()),
                warmup,
                reps,
                results,
            ))
        })
        .py()?;
    let json = serde_json::to_string(&report).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (json,))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLstm>()?;
    m.add_class::<PyStream>()?;
    m.add_class::<ConformResult>()?;
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add_function(wrap_pyfunction!(conform, m)?)?;
    m.add_function(wrap_pyfunction!(bench_shapes, m)?)?;
    m.add("DeviceError", m.py().get_type::<DeviceError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
