//! `wgpu_lstm.GRU` and `wgpu_lstm.RNN`: shaped like `torch.nn.GRU` and `torch.nn.RNN`, built
//! from a state_dict or a model file like `LSTM`, called to get `(y, h_n)`.

use super::PyResult;
use crate::{open::*, recurrent::PyRecurrent};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use wgpu_lstm::{Cell, GateOptions, Layout};

/// The ONNX activation `nonlinearity` (PyTorch nn.RNN's "tanh" or "relu") names, checked
/// against the class's cell and the other keyword arguments.
fn nonlinearity_of(
    cell: Cell,
    nonlinearity: Option<&str>,
    activations: &Option<Vec<String>>,
) -> PyResult<Option<&'static str>> {
    let Some(name) = nonlinearity else {
        return Ok(None);
    };
    if cell != Cell::Rnn {
        return Err(PyValueError::new_err("nonlinearity: an RNN option"));
    }
    if activations.is_some() {
        return Err(PyValueError::new_err(
            "nonlinearity: give it or activations, not both",
        ));
    }
    match name.to_ascii_lowercase().as_str() {
        "tanh" => Ok(Some("Tanh")),
        "relu" => Ok(Some("Relu")),
        other => Err(PyValueError::new_err(format!(
            "nonlinearity: unknown '{other}'; expected 'tanh' or 'relu'"
        ))),
    }
}

/// The options of a GRU or RNN class.
#[allow(clippy::too_many_arguments)]
fn options(
    cell: Cell,
    batch_first: Option<bool>,
    direction: Option<String>,
    clip: Option<f32>,
    linear_before_reset: bool,
    nonlinearity: Option<&str>,
    activations: Option<Vec<String>>,
    activation_alpha: Option<Vec<f32>>,
    activation_beta: Option<Vec<f32>>,
) -> PyResult<Options> {
    if linear_before_reset && cell != Cell::Gru {
        return Err(PyValueError::new_err("linear_before_reset: a GRU option"));
    }
    let nonlinearity = nonlinearity_of(cell, nonlinearity, &activations)?;
    Ok(Options {
        cell,
        batch_first,
        direction,
        gate: GateOptions {
            clip,
            input_forget: false,
            activations,
            activation_alpha: activation_alpha.unwrap_or_default(),
            activation_beta: activation_beta.unwrap_or_default(),
        },
        linear_before_reset,
        nonlinearity,
    })
}

/// The class of one cell without a cell state: its constructors; calls, streams and the model's
/// sizes come from `Recurrent` (with `hx` the initial h alone and `(y, h_n)` returned).
macro_rules! cell_class {
    ($(#[$doc:meta])* $ty:ident = $name:literal, $cell:expr) => {
        $(#[$doc])*
        #[pyclass(frozen, extends = PyRecurrent, module = "wgpu_lstm", name = $name)]
        pub(crate) struct $ty;

        #[pymethods]
        impl $ty {
            /// From a state_dict (PyTorch's names with any prefix, or the ONNX operator's W, R, B).
            /// `linear_before_reset` is for a GRU's ONNX weights (nn.GRU's always have it);
            /// `nonlinearity` ("tanh" or "relu") for an RNN's.
            #[staticmethod]
            #[pyo3(signature = (state_dict, *, batch_first=false, convention=None, direction=None,
                clip=None, linear_before_reset=false, nonlinearity=None, activations=None,
                activation_alpha=None, activation_beta=None, device="gpu", backend=None, adapter=None,
                weights_precision="f32"))]
            #[allow(clippy::too_many_arguments)]
            fn from_state_dict(
                py: Python<'_>,
                state_dict: &Bound<'_, PyAny>,
                batch_first: bool,
                convention: Option<&str>,
                direction: Option<String>,
                clip: Option<f32>,
                linear_before_reset: bool,
                nonlinearity: Option<&str>,
                activations: Option<Vec<String>>,
                activation_alpha: Option<Vec<f32>>,
                activation_beta: Option<Vec<f32>>,
                device: &str,
                backend: Option<&str>,
                adapter: Option<&str>,
                weights_precision: &str,
            ) -> PyResult<Py<Self>> {
                let options = options(
                    $cell, Some(batch_first), direction, clip, linear_before_reset, nonlinearity,
                    activations, activation_alpha, activation_beta,
                )?;
                let model = model_from_state_dict(
                    py, state_dict, &options, convention, device, backend, adapter, weights_precision,
                )?;
                Py::new(py, PyClassInitializer::from(PyRecurrent { model }).add_subclass($ty))
            }

            /// From a file: `.safetensors` (either convention) or an `.onnx` model, whose node
            /// (`node`: a name, or a list stacked as layers) gives every attribute.
            #[staticmethod]
            #[pyo3(signature = (path, *, node=None, batch_first=None, convention=None, direction=None,
                clip=None, linear_before_reset=false, nonlinearity=None, activations=None,
                activation_alpha=None, activation_beta=None, device="gpu", backend=None, adapter=None,
                weights_precision="f32", max_file_bytes=None, max_folded_bytes=None))]
            #[allow(clippy::too_many_arguments)]
            fn load(
                py: Python<'_>,
                path: std::path::PathBuf,
                node: Option<&Bound<'_, PyAny>>,
                batch_first: Option<bool>,
                convention: Option<&str>,
                direction: Option<String>,
                clip: Option<f32>,
                linear_before_reset: bool,
                nonlinearity: Option<&str>,
                activations: Option<Vec<String>>,
                activation_alpha: Option<Vec<f32>>,
                activation_beta: Option<Vec<f32>>,
                device: &str,
                backend: Option<&str>,
                adapter: Option<&str>,
                weights_precision: &str,
                max_file_bytes: Option<u64>,
                max_folded_bytes: Option<u64>,
            ) -> PyResult<Py<Self>> {
                let options = options(
                    $cell, batch_first, direction, clip, linear_before_reset, nonlinearity, activations,
                    activation_alpha, activation_beta,
                )?;
                let files = FileOptions { node, convention, max_file_bytes, max_folded_bytes };
                let model =
                    model_from_file(py, path, files, &options, device, backend, adapter, weights_precision)?;
                Py::new(py, PyClassInitializer::from(PyRecurrent { model }).add_subclass($ty))
            }

            fn __repr__(self_: PyRef<'_, Self>) -> String {
                let model = &self_.as_super().model;
                let c = model.config();
                format!(
                    "{}({}, {}, num_layers={}, direction='{}', batch_first={}, convention='{}', device='{}')",
                    $name,
                    c.input_size,
                    c.hidden_size,
                    c.num_layers,
                    format!("{:?}", c.direction).to_ascii_lowercase(),
                    if c.layout == Layout::BatchMajor { "True" } else { "False" },
                    model.convention,
                    model.device()
                )
            }
        }
    };
}

cell_class! {
    /// A stacked GRU on a GPU (or the CPU reference), shaped like `torch.nn.GRU`.
    PyGru = "GRU", Cell::Gru
}

cell_class! {
    /// A stacked plain RNN on a GPU (or the CPU reference), shaped like `torch.nn.RNN`.
    PyRnn = "RNN", Cell::Rnn
}
