//! The engine behind an `LSTM` object (GPU or CPU) and its conversions between the
//! convention's shapes and the engine's.

use super::PyResult;
use crate::convert::*;
use std::sync::Arc;

use numpy::PyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use wgpu_lstm::gpu::GpuContext;
use wgpu_lstm::{Convention, Dims};
use wgpu_lstm::{CpuLstm, Error, Layout, Lstm, LstmConfig, Output, State, Tensor};

pub(crate) enum Engine {
    Gpu {
        lstm: Box<Lstm>,
        context: Arc<GpuContext>,
    },
    Cpu(CpuLstm),
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

    /// (h0, c0) in the convention's file shapes, for `batch` sequences, into the engine's state.
    pub(crate) fn state_of(&self, hx: &Bound<'_, PyAny>, batch: usize) -> PyResult<State> {
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

    pub(crate) fn state_to_py<'py>(&self, py: Python<'py>, state: State) -> PyResult<Bound<'py, PyTuple>> {
        let layout = self.config().layout;
        let h = numpy_of(py, self.convention.state_to_file(layout, state.h).py()?)?;
        let c = numpy_of(py, self.convention.state_to_file(layout, state.c).py()?)?;
        PyTuple::new(py, [h, c])
    }

    pub(crate) fn y_to_py<'py>(&self, py: Python<'py>, y: Tensor) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        numpy_of(py, self.convention.y_to_file(self.config(), y).py()?)
    }
}
