//! Weight conventions (PyTorch `nn.LSTM`, ONNX `LSTM`): how they name and order gates, and the
//! shapes of states and outputs in each. The engine itself works in PyTorch's shapes.

use std::fmt;

use crate::cell::Cell;
use crate::config::{Layout, LstmConfig};
use crate::error::{Dim, Error, Result};
use crate::tensor::Tensor;

/// Where the weights came from, which fixes tensor names, gate order and I/O shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convention {
    /// `nn.LSTM`, `nn.GRU` or `nn.RNN`'s `state_dict()`: `weight_ih_l{k}[_reverse]` etc.,
    /// gates i, f, g, o (LSTM) or r, z, n (GRU).
    PyTorch,
    /// One ONNX LSTM, GRU or RNN node: `W [D,G·H,I]`, `R [D,G·H,H]`, `B [D,2G·H]`, gates i, o, f,
    /// c (LSTM) or z, r, h (GRU).
    Onnx,
}

impl Convention {
    /// For each of `cell`'s gates in the engine's order, the index of its row block in files of
    /// this convention: ONNX's LSTM orders i, o, f, c (the engine i, f, g, o, as PyTorch);
    /// PyTorch's GRU orders r, z, n (the engine z, r, n, as ONNX).
    pub(crate) fn block_of_gate(self, cell: Cell) -> &'static [usize] {
        match (self, cell) {
            (Convention::Onnx, Cell::Lstm) => &[0, 2, 3, 1],
            (Convention::PyTorch, Cell::Lstm) => &[0, 1, 2, 3],
            (Convention::PyTorch, Cell::Gru) => &[1, 0, 2],
            (Convention::Onnx, Cell::Gru) => &[0, 1, 2],
            (_, Cell::Rnn) => &[0],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Convention::PyTorch => "pytorch",
            Convention::Onnx => "onnx",
        }
    }

    /// Shape of X in files of this convention (the same in both).
    pub fn input_shape(self, config: &LstmConfig, seq_len: usize, batch: usize) -> Vec<usize> {
        match config.layout {
            Layout::SeqMajor => vec![seq_len, batch, config.input_size],
            Layout::BatchMajor => vec![batch, seq_len, config.input_size],
        }
    }

    /// Shape of h0 and h_n (`width` P, or H without projection) or of c0 and c_n (`width` H)
    /// in files of this convention.
    pub fn state_shape(self, config: &LstmConfig, batch: usize, width: usize) -> Vec<usize> {
        let ld = config.num_layers * config.num_directions();
        match (self, config.layout) {
            (Convention::Onnx, Layout::BatchMajor) => vec![batch, ld, width],
            _ => vec![ld, batch, width],
        }
    }

    /// Shape of Y in files of this convention.
    pub fn y_shape(self, config: &LstmConfig, seq_len: usize, batch: usize) -> Vec<usize> {
        let (d, h) = (config.num_directions(), config.output_size());
        match (self, config.layout) {
            (Convention::PyTorch, Layout::SeqMajor) => vec![seq_len, batch, d * h],
            (Convention::PyTorch, Layout::BatchMajor) => vec![batch, seq_len, d * h],
            (Convention::Onnx, Layout::SeqMajor) => vec![seq_len, d, batch, h],
            (Convention::Onnx, Layout::BatchMajor) => vec![batch, seq_len, d, h],
        }
    }

    /// A state from a file of this convention into the engine's `[L·D,B,H]`.
    pub fn state_from_file(self, layout: Layout, state: Tensor) -> Result<Tensor> {
        match (self, layout) {
            (Convention::Onnx, Layout::BatchMajor) => state.permuted(&[1, 0, 2]),
            _ => Ok(state),
        }
    }

    /// A state of the engine's `[L·D,B,H]` into this convention's file shape.
    pub fn state_to_file(self, layout: Layout, state: Tensor) -> Result<Tensor> {
        // [B,D,H] <-> [D,B,H] is its own inverse.
        self.state_from_file(layout, state)
    }

    /// The engine's Y (`[T,B,D·P]` or `[B,T,D·P]`) into this convention's file shape.
    pub fn y_to_file(self, config: &LstmConfig, y: Tensor) -> Result<Tensor> {
        let (d, h) = (config.num_directions(), config.output_size());
        match (self, config.layout) {
            (Convention::PyTorch, _) => Ok(y),
            (Convention::Onnx, layout) => {
                let s = y.shape().to_vec();
                if s.len() != 3 || s[2] != d * h {
                    return Err(Error::shape_pattern(
                        "Y",
                        vec![Dim::Named("T"), Dim::Named("B"), Dim::Known("D·H", d * h)],
                        &s,
                    ));
                }
                let split = y.reshaped(vec![s[0], s[1], d, h])?;
                match layout {
                    // [T,B,D,H] -> [T,D,B,H]
                    Layout::SeqMajor => split.permuted(&[0, 2, 1, 3]),
                    Layout::BatchMajor => Ok(split),
                }
            }
        }
    }

    /// Y in this convention's file shape (what [`Convention::y_to_file`] writes) into the
    /// engine's `[T,B,D·P]` or `[B,T,D·P]`; `what` names it in errors.
    pub fn y_from_file(self, config: &LstmConfig, what: &str, y: Tensor) -> Result<Tensor> {
        let (d, h) = (config.num_directions(), config.output_size());
        let s = y.shape().to_vec();
        match (self, config.layout) {
            (Convention::PyTorch, _) => Ok(y),
            (Convention::Onnx, layout) => {
                let (t_or_b, inner) = match layout {
                    Layout::SeqMajor => ("T", [Dim::Known("D", d), Dim::Named("B")]),
                    Layout::BatchMajor => ("B", [Dim::Named("T"), Dim::Known("D", d)]),
                };
                let ok = s.len() == 4
                    && s[3] == h
                    && match layout {
                        Layout::SeqMajor => s[1] == d,
                        Layout::BatchMajor => s[2] == d,
                    };
                if !ok {
                    let [a, b] = inner;
                    return Err(Error::shape_pattern(
                        what.to_string(),
                        vec![Dim::Named(t_or_b), a, b, Dim::Known("H", h)],
                        &s,
                    ));
                }
                let merged = match layout {
                    // [T,D,B,H] -> [T,B,D,H]
                    Layout::SeqMajor => y.permuted(&[0, 2, 1, 3])?,
                    Layout::BatchMajor => y,
                };
                let s = merged.shape().to_vec();
                merged.reshaped(vec![s[0], s[1], d * h])
            }
        }
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
