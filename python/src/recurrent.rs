//! `wgpu_lstm.Recurrent`: what the `LSTM`, `GRU` and `RNN` classes share (calling, streams,
//! the model's sizes and device). Each class extends it with its constructors.

use super::PyResult;
use crate::{model::*, open::*, stream::*};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use wgpu_lstm::{Direction, Layout};

/// A stacked recurrent network on a GPU (or the CPU reference): the base of `LSTM`, `GRU` and
/// `RNN`, which build it.
#[pyclass(frozen, subclass, module = "wgpu_lstm", name = "Recurrent")]
pub(crate) struct PyRecurrent {
    pub(crate) model: Arc<Model>,
}

#[pymethods]
impl PyRecurrent {
    /// Run the whole sequence: `x` is (T, B, I), or (B, T, I) with batch_first; `hx` an optional
    /// `(h0, c0)` for an LSTM, h0 for a GRU or an RNN; `seq_lens` optional lengths per batch
    /// element (0..=T; a sequence of length 0 gives zero outputs and final states). Returns
    /// `(y, (h_n, c_n))` for an LSTM and `(y, h_n)` for a GRU or an RNN, as float32 numpy
    /// arrays in the convention's shapes.
    #[pyo3(signature = (x, hx=None, seq_lens=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        hx: Option<&Bound<'py, PyAny>>,
        seq_lens: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        call(&self.model, py, x, hx, seq_lens)
    }

    /// Streams for `batch` sequences fed chunk by chunk, their state kept by the engine (on the
    /// GPU for device='gpu'), starting from `hx` or zeros.
    #[pyo3(signature = (batch, hx=None))]
    fn stream(&self, py: Python<'_>, batch: usize, hx: Option<&Bound<'_, PyAny>>) -> PyResult<PyStream> {
        open_stream(&self.model, py, batch, hx)
    }

    /// "gpu" or "cpu".
    #[getter]
    fn device(&self) -> &'static str {
        self.model.device()
    }

    /// The GPU's backend ("vulkan", "gl", "metal", "dx12"), or None on the CPU.
    #[getter]
    fn backend(&self) -> Option<String> {
        self.model.backend()
    }

    /// The adapter in one line (name, backend, type, driver), or "CPU reference".
    #[getter]
    fn adapter(&self) -> String {
        self.model.adapter()
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

    /// "f32", "f16" or "int8".
    #[getter]
    fn weights_precision(&self) -> &'static str {
        self.model.config().weights_precision.name()
    }

    /// Bytes of the weights resident on the GPU (W, R and W_hr at `weights_precision`, int8's
    /// scales included, biases f32); None on the CPU.
    #[getter]
    fn weight_bytes(&self) -> Option<u64> {
        self.model.weight_bytes()
    }

    /// Counters of the latest forward or stream step on the GPU (dispatches, submits, readbacks,
    /// bytes, kernels, GPU time); None on the CPU.
    fn last_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.model.last_stats(py)
    }

    /// "lstm", "gru" or "rnn".
    #[getter]
    fn cell(&self) -> &'static str {
        self.model.config().cell.name()
    }

    /// A GRU's linear_before_reset (False for the other cells).
    #[getter]
    fn linear_before_reset(&self) -> bool {
        self.model.config().linear_before_reset
    }
}
