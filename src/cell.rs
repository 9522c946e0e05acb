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

use crate::error::{Error, Result};

/// A recurrent cell. The LSTM is the only one today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Cell {
    /// Gates i, f, g, o; c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙h(c_t).
    #[default]
    Lstm,
}

impl Cell {
    /// Every cell, in the order the CLI lists them.
    pub const ALL: [Cell; 1] = [Cell::Lstm];

    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
        }
    }

    /// Gates per hidden unit: the row blocks of W, R and the biases (4 for the LSTM). A GPU
    /// kernel holds one unit's gates in the lanes of a vec4, so a cell has at most
    /// [`Cell::MAX_GATES`].
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
        }
    }

    /// The most gates a cell may have (the lanes of a vec4).
    pub const MAX_GATES: usize = 4;

    /// Activation functions per direction, in ONNX's order (the LSTM's f, g, h).
    pub fn activations(self) -> usize {
        match self {
            Cell::Lstm => 3,
        }
    }

    /// What each activation of a direction is for, for messages.
    pub fn activation_roles(self) -> &'static str {
        match self {
            Cell::Lstm => "f, g, h",
        }
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
        let err = "gru".parse::<Cell>().unwrap_err().to_string();
        assert!(err.contains("\"gru\" is not one of lstm"), "{err}");
    }
}
