//! `LstmConfig`: the sizes and options of a stacked LSTM, independent of where it runs.

use crate::error::{Error, Result};

/// Which way each layer reads the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// First step to last.
    Forward,
    /// Last valid step to first (ONNX `direction="reverse"`).
    Reverse,
    /// Both; outputs concatenate forward then backward.
    Bidirectional,
}

impl Direction {
    /// D: 1 or 2.
    pub fn num_directions(self) -> usize {
        match self {
            Direction::Forward | Direction::Reverse => 1,
            Direction::Bidirectional => 2,
        }
    }

    /// Whether direction slot `d` (0 or 1) reads the sequence backwards.
    pub fn is_reversed(self, d: usize) -> bool {
        match self {
            Direction::Forward => false,
            Direction::Reverse => true,
            Direction::Bidirectional => d == 1,
        }
    }
}

/// Memory layout of sequences (input X and output Y).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// `[T, B, ...]`: PyTorch's default, ONNX layout 0.
    #[default]
    SeqMajor,
    /// `[B, T, ...]`: PyTorch `batch_first=True`, ONNX layout 1.
    BatchMajor,
}

impl Layout {
    /// Row index of (timestep `t`, batch element `b`) in a `[T,B,..]` or `[B,T,..]` array.
    pub fn row(self, t: usize, b: usize, seq_len: usize, batch: usize) -> usize {
        match self {
            Layout::SeqMajor => t * batch + b,
            Layout::BatchMajor => b * seq_len + t,
        }
    }
}

/// Sizes and options of a stacked LSTM.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LstmConfig {
    /// I: features per input step.
    pub input_size: usize,
    /// H: hidden units per direction.
    pub hidden_size: usize,
    /// L: stacked layers; layer k>0 takes D·H inputs.
    pub num_layers: usize,
    pub direction: Direction,
    /// Whether the gates have biases.
    pub bias: bool,
    pub layout: Layout,
}

impl LstmConfig {
    /// D: 1 or 2.
    pub fn num_directions(&self) -> usize {
        self.direction.num_directions()
    }

    /// Input width of layer `layer`: I for the first, D·H after.
    pub fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.num_directions() * self.hidden_size
        }
    }

    /// Refuse sizes of zero.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ] {
            if v == 0 {
                return Err(Error::invalid(
                    format!("config.{what}"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }
}
