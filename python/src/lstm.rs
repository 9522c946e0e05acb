//! `wgpu_lstm.LSTM`: built from a state_dict or a model file, called like `torch.nn.LSTM`.

use super::PyResult;
use crate::{model::*, open::*, recurrent::PyRecurrent};
use std::sync::Arc;

use pyo3::prelude::*;

use wgpu_lstm::{Direction, GateOptions, Layout};

/// A stacked LSTM on a GPU (or the CPU reference), shaped like `torch.nn.LSTM`: build it with
/// `LSTM.from_state_dict` or `LSTM.load`, call it on `x` to get `(y, (h_n, c_n))`.
#[pyclass(frozen, extends = PyRecurrent, module = "wgpu_lstm", name = "LSTM")]
pub(crate) struct PyLstm;

impl PyLstm {
    fn made(model: Arc<Model>) -> PyClassInitializer<Self> {
        PyClassInitializer::from(PyRecurrent { model }).add_subclass(PyLstm)
    }
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
    ) -> PyResult<Py<Self>> {
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
            ..Options::default()
        };
        let model = model_from_state_dict(
            py,
            state_dict,
            &options,
            convention,
            device,
            backend,
            adapter,
            weights_precision,
        )?;
        Py::new(py, PyLstm::made(model))
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
    ) -> PyResult<Py<Self>> {
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
            ..Options::default()
        };
        let files = FileOptions {
            node,
            convention,
            max_file_bytes,
            max_folded_bytes,
        };
        let model = model_from_file(
            py,
            path,
            files,
            &options,
            device,
            backend,
            adapter,
            weights_precision,
        )?;
        Py::new(py, PyLstm::made(model))
    }

    #[getter]
    fn proj_size(self_: PyRef<'_, Self>) -> usize {
        self_.as_super().model.config().proj_size.unwrap_or(0)
    }

    #[getter]
    fn input_forget(self_: PyRef<'_, Self>) -> bool {
        self_.as_super().model.config().input_forget
    }

    fn __repr__(self_: PyRef<'_, Self>) -> String {
        let model = &self_.as_super().model;
        let c = model.config();
        let mut extra = String::new();
        if let Some(p) = c.proj_size {
            extra += &format!(", proj_size={p}");
        }
        if c.direction != Direction::Forward {
            extra += &format!(
                ", direction='{}'",
                format!("{:?}", c.direction).to_ascii_lowercase()
            );
        }
        if c.layout == Layout::BatchMajor {
            extra += ", batch_first=True";
        }
        format!(
            "LSTM({}, {}, num_layers={}{extra}, convention='{}', device='{}')",
            c.input_size,
            c.hidden_size,
            c.num_layers,
            model.convention,
            model.device()
        )
    }
}
