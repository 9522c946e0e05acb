//! `wgpu_lstm.StreamPool`: many independent streams of one model, stepped together (the
//! library's `StreamPool` over the model's engine, which it shares). The package's Python part
//! adds `submit`, the asyncio front that coalesces concurrent callers into one step.

use super::PyResult;
use crate::{convert::*, model::*, recurrent::PyRecurrent};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use wgpu_lstm::{CpuLstm, Lstm, State, StreamId, StreamPool, Tensor};

enum Pool {
    Gpu(StreamPool<Arc<Lstm>>),
    Cpu(StreamPool<Arc<CpuLstm>>),
}

macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            Pool::Gpu($p) => $body,
            Pool::Cpu($p) => $body,
        }
    };
}

/// Independent streams of one unidirectional model, each with its own state (on the GPU for
/// device='gpu'), opened and closed at any moment; `step` runs one batched forward over exactly
/// the streams given.
#[pyclass(subclass, dict, module = "wgpu_lstm", name = "StreamPool")]
pub(crate) struct PyStreamPool {
    model: Arc<Model>,
    pool: Mutex<Pool>,
    /// How long `submit` waits for more callers before it steps (seconds).
    #[pyo3(get)]
    max_wait: f64,
}

impl PyStreamPool {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A one-stream state from `hx` in the shapes `state` returns.
    fn single_state(&self, hx: &Bound<'_, PyAny>) -> PyResult<State> {
        let config = self.model.config();
        let layers = config.num_layers;
        let read = |value: &Bound<'_, PyAny>, name: &str, width: usize| -> PyResult<Tensor> {
            let t = tensor_of(name, value)?;
            if t.shape() != [layers, width] {
                return Err(PyValueError::new_err(format!(
                    "{name}: expected shape ({layers}, {width}), got {:?}",
                    t.shape()
                )));
            }
            Tensor::new(vec![layers, 1, width], t.data().to_vec()).py()
        };
        if !config.cell.has_cell_state() {
            return Ok(State {
                h: read(hx, "h", config.output_size())?,
                c: Tensor::zeros(vec![layers, 1, 0]).py()?,
            });
        }
        let pair = hx
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 2)
            .ok_or_else(|| PyValueError::new_err("hx: expected a pair (h, c)"))?;
        Ok(State {
            h: read(&pair.get_item(0)?, "h", config.output_size())?,
            c: read(&pair.get_item(1)?, "c", config.hidden_size)?,
        })
    }
}

#[pymethods]
impl PyStreamPool {
    /// A pool over `model` (an LSTM, GRU or RNN, unidirectional) with room for `capacity`
    /// streams before it grows; `max_wait` is how long `submit` gathers callers (seconds).
    #[new]
    #[pyo3(signature = (model, capacity=64, max_wait=0.002))]
    fn new(model: &Bound<'_, PyRecurrent>, capacity: usize, max_wait: f64) -> PyResult<Self> {
        if !(0.0..=1.0).contains(&max_wait) {
            return Err(PyValueError::new_err(format!(
                "max_wait: {max_wait} s is outside 0..=1"
            )));
        }
        let model = model.get().model.clone();
        let pool = match &model.engine {
            Engine::Gpu { lstm, .. } => Pool::Gpu(StreamPool::with_capacity(lstm.clone(), capacity).py()?),
            Engine::Cpu(cpu) => Pool::Cpu(StreamPool::with_capacity(cpu.clone(), capacity).py()?),
        };
        Ok(PyStreamPool {
            model,
            pool: Mutex::new(pool),
            max_wait,
        })
    }

    /// Open a stream from `hx` (`(h, c)` each (num_layers, H) for an LSTM, `h` for a GRU or an
    /// RNN) or zeros; returns its id.
    #[pyo3(signature = (hx=None))]
    fn open(&self, py: Python<'_>, hx: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let initial = hx.map(|hx| self.single_state(hx)).transpose()?;
        let id = py.detach(|| {
            let mut pool = self.pool();
            on_pool!(&mut *pool, p => match &initial {
                Some(s) => p.open_with(s),
                None => p.open(),
            })
        });
        Ok(id.py()?.to_u64())
    }

    /// Close a stream: its id stops working and its slot is reused.
    fn close(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        py.detach(|| on_pool!(&mut *self.pool(), p => p.close(StreamId::from_u64(id))))
            .py()
    }

    /// One batched step: `chunks` maps ids to their chunk (T_i, input_size); returns a dict of
    /// each id's y (T_i, output_size). Every id and chunk is checked first; on an error no
    /// stream changes.
    fn step<'py>(&self, py: Python<'py>, chunks: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
        let mut ids = Vec::with_capacity(chunks.len());
        let mut tensors = Vec::with_capacity(chunks.len());
        for (id, chunk) in chunks.iter() {
            let id: u64 = id.extract()?;
            tensors.push(tensor_of(&format!("chunk of stream {id}"), &chunk)?);
            ids.push(id);
        }
        let ys = py
            .detach(|| {
                let request: Vec<(StreamId, &Tensor)> = ids
                    .iter()
                    .map(|&id| StreamId::from_u64(id))
                    .zip(&tensors)
                    .collect();
                on_pool!(&mut *self.pool(), p => p.step(&request))
            })
            .py()?;
        let out = PyDict::new(py);
        for (id, y) in ids.into_iter().zip(ys) {
            out.set_item(id, numpy_of(py, y)?)?;
        }
        Ok(out)
    }

    /// The stream's state without the batch axis: `(h, c)` each (num_layers, H) for an LSTM, `h`
    /// for a GRU or an RNN.
    fn state<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Bound<'py, PyAny>> {
        let state = py
            .detach(|| on_pool!(&*self.pool(), p => p.state(StreamId::from_u64(id))))
            .py()?;
        let drop_batch = |t: Tensor| {
            let s = t.shape().to_vec();
            Tensor::new(vec![s[0], s[2]], t.data().to_vec())
        };
        let h = numpy_of(py, drop_batch(state.h).py()?)?;
        if !self.model.config().cell.has_cell_state() {
            return Ok(h.into_any());
        }
        let c = numpy_of(py, drop_batch(state.c).py()?)?;
        Ok(PyTuple::new(py, [h, c])?.into_any())
    }

    /// Replace the stream's state (the shapes `state` returns).
    fn set_state(&self, py: Python<'_>, id: u64, hx: &Bound<'_, PyAny>) -> PyResult<()> {
        let state = self.single_state(hx)?;
        py.detach(|| on_pool!(&mut *self.pool(), p => p.set_state(StreamId::from_u64(id), &state)))
            .py()
    }

    /// Zero the stream's state.
    fn reset(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        py.detach(|| on_pool!(&mut *self.pool(), p => p.reset(StreamId::from_u64(id))))
            .py()
    }

    /// Streams held before the pool grows.
    #[getter]
    fn capacity(&self) -> usize {
        on_pool!(&*self.pool(), p => p.capacity())
    }

    /// Open streams.
    fn __len__(&self) -> usize {
        on_pool!(&*self.pool(), p => p.len())
    }
}
