//! The recurrent cell: what one kind of recurrent network has of its own. Everything else (the
//! configuration's other options, the weights' containers, the GPU plan, workspace and
//! recording, the CPU reference's loops over layers, directions and steps, training's tape plan
//! and optimizer) reads a cell only through this type.
//!
//! A cell brings:
//! - its table here: gates per unit, activations per direction;
//! - its float64 step for the CPU reference (`backend/cpu/<cell>.rs`) and its forward and
//!   backward for the CPU training reference (`train/cpu/<cell>.rs`);
//! - its WGSL cell bodies (`shaders/cells/<cell>.wgsl`, `shaders/train/cells/<cell>.wgsl`),
//!   which the kernel registry composes into every step and training kernel.
//!
//! docs/architecture.md lists the files a new cell touches.

use std::fmt;
use std::str::FromStr;

use crate::activation::Activation;
use crate::error::{Error, Result};

/// A recurrent cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Cell {
    /// Gates i, f, g, o; c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙h(c_t).
    #[default]
    Lstm,
    /// Gates z, r, n (ONNX's z, r, h): h_t = (1 − z)⊙n + z⊙h_{t−1}, with
    /// n = g(W_n·x + Wb_n + r⊙(R_n·h_{t−1} + Rb_n)) when `linear_before_reset` (PyTorch's
    /// `nn.GRU`), else n = g(W_n·x + R_n·(r⊙h_{t−1}) + Wb_n + Rb_n) (ONNX's default).
    Gru,
    /// One gate: h_t = f(W·x + R·h_{t−1} + Wb + Rb) (ONNX `RNN`, PyTorch `nn.RNN`).
    Rnn,
}

impl Cell {
    /// Every cell, in the order the CLI lists them.
    pub const ALL: [Cell; 3] = [Cell::Lstm, Cell::Gru, Cell::Rnn];

    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
            Cell::Rnn => "rnn",
        }
    }

    /// The ONNX operator of the cell.
    pub fn onnx_op(self) -> &'static str {
        match self {
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
            Cell::Rnn => "RNN",
        }
    }

    /// The operator with its article, for messages: "an LSTM", "a GRU", "an RNN".
    pub fn indefinite(self) -> &'static str {
        match self {
            Cell::Lstm => "an LSTM",
            Cell::Gru => "a GRU",
            Cell::Rnn => "an RNN",
        }
    }

    /// Gates per hidden unit: the row blocks of W, R and the biases (4 for the LSTM, 3 for the
    /// GRU, 1 for the RNN). A GPU kernel holds one unit's gates in the lanes of a vec4, so a
    /// cell has at most [`Cell::MAX_GATES`].
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::Rnn => 1,
        }
    }

    /// The most gates a cell may have (the lanes of a vec4).
    pub const MAX_GATES: usize = 4;

    /// Whether the cell carries a cell state c beside h (only the LSTM does). Without one, a
    /// state's and an output's `c` have width 0.
    pub fn has_cell_state(self) -> bool {
        self == Cell::Lstm
    }

    /// Activation functions per direction, in ONNX's order (the LSTM's f, g, h; the GRU's f, g;
    /// the RNN's f).
    pub fn activations(self) -> usize {
        match self {
            Cell::Lstm => 3,
            Cell::Gru => 2,
            Cell::Rnn => 1,
        }
    }

    /// What each activation of a direction is for, for messages.
    pub fn activation_roles(self) -> &'static str {
        match self {
            Cell::Lstm => "f, g, h",
            Cell::Gru => "f, g",
            Cell::Rnn => "f",
        }
    }

    /// The ONNX defaults of a direction's activations, in order.
    pub fn default_activations(self) -> &'static [Activation] {
        match self {
            Cell::Lstm => &Activation::DEFAULT,
            Cell::Gru => &Activation::DEFAULT[..2],
            Cell::Rnn => &Activation::DEFAULT[1..2],
        }
    }

    /// The default activations' ONNX names, one direction's.
    pub fn default_activation_names(self) -> Vec<String> {
        self.default_activations()
            .iter()
            .map(|a| a.kind.name().to_string())
            .collect()
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cell {
    type Err = Error;

    fn from_str(s: &str) -> Result<Cell> {
        Cell::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Cell::ALL.iter().map(|c| c.name()).collect();
                Error::invalid("cell", format!("{s:?} is not one of {}", names.join(", ")))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_parse_by_name_and_fit_a_vec4() {
        for cell in Cell::ALL {
            assert_eq!(cell.name().parse::<Cell>().unwrap(), cell);
            assert_eq!(cell.name().to_uppercase().parse::<Cell>().unwrap(), cell);
            assert!((1..=Cell::MAX_GATES).contains(&cell.gates()), "{cell}");
        }
        let err = "lru".parse::<Cell>().unwrap_err().to_string();
        assert!(err.contains("\"lru\" is not one of lstm, gru, rnn"), "{err}");
        for cell in Cell::ALL {
            assert_eq!(cell.default_activations().len(), cell.activations(), "{cell}");
        }
    }
}
