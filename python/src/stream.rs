//! `wgpu_lstm.Stream`: a batch of streams fed chunk by chunk, their state kept between steps.

use super::PyResult;
use crate::{convert::*, model::*};
use std::sync::{Arc, Mutex};

use numpy::PyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use wgpu_lstm::gpu::LstmState;
use wgpu_lstm::{LstmForward, State, Tensor};

pub(crate) enum StreamState {
    Gpu(LstmState),
    Cpu(State),
}

/// A batch of streams fed chunk by chunk (`LSTM.stream`); each stream's state carries over from
/// one `step` to the next.
#[pyclass(frozen, module = "wgpu_lstm", name = "Stream")]
pub(crate) struct PyStream {
    pub(crate) model: Arc<Model>,
    pub(crate) batch: usize,
    pub(crate) state: Mutex<StreamState>,
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

    /// The streams' state now, in the convention's shapes: `(h, c)` for an LSTM, `h` for a GRU
    /// or an RNN.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
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
pub(crate) fn zero_streams(t: &Tensor, streams: &[usize]) -> wgpu_lstm::Result<Tensor> {
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
