//! The engine behind an `LSTM` object (GPU or CPU) and its conversions between the
//! convention's shapes and the engine's.

use super::PyResult;
use crate::convert::*;
use std::sync::Arc;

use numpy::PyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use wgpu_lstm::gpu::GpuContext;
use wgpu_lstm::{Convention, Dims};
use wgpu_lstm::{CpuLstm, Error, Layout, Lstm, LstmConfig, Output, State, Tensor};

pub(crate) enum Engine {
    Gpu {
        lstm: Arc<Lstm>,
        context: Arc<GpuContext>,
    },
    Cpu(Arc<CpuLstm>),
}

pub(crate) struct Model {
    pub(crate) engine: Engine,
    pub(crate) convention: Convention,
    /// The initial state and lengths an .onnx model holds as constants, used when a call gives none.
    pub(crate) initial: Option<State>,
    pub(crate) seq_lens: Option<Vec<usize>>,
}

impl Model {
    pub(crate) fn config(&self) -> &LstmConfig {
        match &self.engine {
            Engine::Gpu { lstm, .. } => lstm.config(),
            Engine::Cpu(cpu) => cpu.config(),
        }
    }

    pub(crate) fn forward(
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
    pub(crate) fn dims(&self, x: &Tensor) -> PyResult<Dims> {
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

    /// The initial state in the convention's file shapes, for `batch` sequences, into the
    /// engine's: `(h0, c0)` for the LSTM, `h0` alone for cells without a cell state.
    pub(crate) fn state_of(&self, hx: &Bound<'_, PyAny>, batch: usize) -> PyResult<State> {
        let config = self.config();
        let read = |value: &Bound<'_, PyAny>, name: &str, width: usize| -> PyResult<Tensor> {
            let tensor = tensor_of(name, value)?;
            let expected = self.convention.state_shape(config, batch, width);
            if tensor.shape() != expected.as_slice() {
                return Err(py_err(Error::shape(name, &expected, tensor.shape())));
            }
            self.convention.state_from_file(config.layout, tensor).py()
        };
        if !config.cell.has_cell_state() {
            if hx.cast::<PyTuple>().is_ok() {
                return Err(PyValueError::new_err(format!(
                    "hx: {} takes h0 alone (it has no cell state), not a tuple",
                    config.cell.indefinite()
                )));
            }
            let h = read(hx, "h0", config.output_size())?;
            return Ok(State {
                h,
                c: Tensor::zeros(vec![config.num_layers * config.num_directions(), batch, 0]).py()?,
            });
        }
        let pair = hx
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| PyValueError::new_err("hx: expected a pair (h0, c0)"))?;
        let h = read(&pair.get_item(0)?, "h0", config.output_size())?;
        let c = read(&pair.get_item(1)?, "c0", config.hidden_size)?;
        Ok(State { h, c })
    }

    /// A state in the convention's file shapes: `(h, c)` for the LSTM, `h` alone for cells
    /// without a cell state.
    pub(crate) fn state_to_py<'py>(&self, py: Python<'py>, state: State) -> PyResult<Bound<'py, PyAny>> {
        let config = self.config();
        let h = numpy_of(py, self.convention.state_to_file(config.layout, state.h).py()?)?;
        if !config.cell.has_cell_state() {
            return Ok(h.into_any());
        }
        let c = numpy_of(py, self.convention.state_to_file(config.layout, state.c).py()?)?;
        Ok(PyTuple::new(py, [h, c])?.into_any())
    }

    pub(crate) fn y_to_py<'py>(&self, py: Python<'py>, y: Tensor) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        numpy_of(py, self.convention.y_to_file(self.config(), y).py()?)
    }

    /// "gpu" or "cpu".
    pub(crate) fn device(&self) -> &'static str {
        match self.engine {
            Engine::Gpu { .. } => "gpu",
            Engine::Cpu(_) => "cpu",
        }
    }

    /// The GPU's backend ("vulkan", "gl", "metal", "dx12"), or None on the CPU.
    /// Bytes of the resident weights on the GPU; None on the CPU.
    pub(crate) fn weight_bytes(&self) -> Option<u64> {
        match &self.engine {
            Engine::Gpu { lstm, .. } => Some(lstm.weight_bytes()),
            Engine::Cpu(_) => None,
        }
    }

    pub(crate) fn backend(&self) -> Option<String> {
        match &self.engine {
            Engine::Gpu { context, .. } => {
                Some(format!("{:?}", context.adapter_info().backend).to_ascii_lowercase())
            }
            Engine::Cpu(_) => None,
        }
    }

    /// The adapter in one line (name, backend, type, driver), or "CPU reference".
    pub(crate) fn adapter(&self) -> String {
        match &self.engine {
            Engine::Gpu { context, .. } => context.describe(),
            Engine::Cpu(_) => "CPU reference".into(),
        }
    }

    /// Counters of the latest forward or stream step on the GPU; None on the CPU.
    pub(crate) fn last_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Engine::Gpu { lstm, .. } = &self.engine else {
            return Ok(None);
        };
        let stats = lstm.last_stats();
        let d = PyDict::new(py);
        d.set_item("dispatches", stats.dispatches)?;
        d.set_item("submits", stats.submits)?;
        d.set_item("readbacks", stats.readbacks)?;
        d.set_item("copies", stats.copies)?;
        d.set_item("bytes_uploaded", stats.bytes_uploaded)?;
        d.set_item("bytes_downloaded", stats.bytes_downloaded)?;
        d.set_item("record_us", stats.record_ns as f64 / 1e3)?;
        d.set_item("gpu_ms", stats.gpu_ns.map(|ns| ns as f64 / 1e6))?;
        d.set_item("kernels", stats.variants.to_string())?;
        Ok(Some(d))
    }
}
