//! Conversions at the boundary: engine errors into Python exceptions, numpy arrays into
//! tensors and back, lengths, backend and option names, the shared GPU context.

use super::{DeviceError, PyResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyMemoryError, PyOSError, PyPermissionError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use wgpu_lstm::bench::AdapterReport;
use wgpu_lstm::gpu::{AdapterRequest, GpuContext};
use wgpu_lstm::Convention;
use wgpu_lstm::{Direction, Error, Precision, Tensor};

/// The engine's error as the Python exception that fits it.
pub(crate) fn py_err(e: Error) -> PyErr {
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

pub(crate) trait OrPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> OrPy<T> for wgpu_lstm::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(py_err)
    }
}

/// Any array-like (numpy, lists, CPU torch tensors) as a float32 tensor; float16 and float64 are
/// converted, other dtypes refused.
pub(crate) fn tensor_of(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Tensor> {
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

pub(crate) fn numpy_of<'py>(py: Python<'py>, tensor: Tensor) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let shape = tensor.shape().to_vec();
    let array = ArrayD::from_shape_vec(IxDyn(&shape), tensor.into_data())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py))
}

/// Sequence lengths from any sequence of non-negative integers.
pub(crate) fn lengths_of(what: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
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

pub(crate) fn backends_of(name: Option<&str>) -> PyResult<Option<wgpu::Backends>> {
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
pub(crate) fn context(
    py: Python<'_>,
    backend: Option<&str>,
    adapter: Option<&str>,
) -> PyResult<Arc<GpuContext>> {
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

pub(crate) fn adapter_dict<'py>(py: Python<'py>, info: &wgpu::AdapterInfo) -> PyResult<Bound<'py, PyDict>> {
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

pub(crate) fn direction_of(name: &str) -> PyResult<Direction> {
    match name.to_ascii_lowercase().as_str() {
        "forward" => Ok(Direction::Forward),
        "reverse" => Ok(Direction::Reverse),
        "bidirectional" => Ok(Direction::Bidirectional),
        other => Err(PyValueError::new_err(format!(
            "direction: unknown '{other}'; expected forward, reverse or bidirectional"
        ))),
    }
}

pub(crate) fn precision_of(name: &str) -> PyResult<Precision> {
    match name {
        "f32" | "float32" => Ok(Precision::F32),
        "f16" | "float16" => Ok(Precision::F16),
        "int8" => Ok(Precision::Int8),
        other => Err(PyValueError::new_err(format!(
            "weights_precision: unknown '{other}'; expected f32, f16 or int8"
        ))),
    }
}

pub(crate) fn convention_of(name: Option<&str>) -> PyResult<Option<Convention>> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("pytorch") | Some("torch") => Ok(Some(Convention::PyTorch)),
        Some("onnx") => Ok(Some(Convention::Onnx)),
        Some(other) => Err(PyValueError::new_err(format!(
            "convention: unknown '{other}'; expected pytorch or onnx"
        ))),
    }
}
