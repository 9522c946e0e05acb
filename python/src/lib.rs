//! `wgpu_lstm._native`: the engine for Python, re-exported by the `wgpu_lstm` package
//! (`python/python/wgpu_lstm/__init__.py`, typed in `__init__.pyi`).
//!
//! Arrays cross as float32 numpy arrays in the shapes of the model's convention (PyTorch's or
//! ONNX's); the GIL is released while the engine works; engine errors become `ValueError`,
//! `OSError` (and its subclasses) or `wgpu_lstm.DeviceError` with the engine's message.

use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

create_exception!(
    wgpu_lstm,
    DeviceError,
    PyRuntimeError,
    "No usable GPU adapter, a device that could not be opened, a request beyond the device's \
     limits, or an error the GPU reported."
);

type PyResult<T> = pyo3::PyResult<T>;

mod cells;
mod convert;
mod lstm;
mod model;
mod open;
mod pool;
mod recurrent;
mod stream;
mod tools;

use cells::{PyGru, PyRnn};
use lstm::PyLstm;
use pool::PyStreamPool;
use recurrent::PyRecurrent;
use stream::PyStream;
use tools::{adapters, bench_shapes, conform, ConformResult};

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecurrent>()?;
    m.add_class::<PyLstm>()?;
    m.add_class::<PyGru>()?;
    m.add_class::<PyRnn>()?;
    m.add_class::<PyStream>()?;
    m.add_class::<PyStreamPool>()?;
    m.add_class::<ConformResult>()?;
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add_function(wrap_pyfunction!(conform, m)?)?;
    m.add_function(wrap_pyfunction!(bench_shapes, m)?)?;
    m.add("DeviceError", m.py().get_type::<DeviceError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
