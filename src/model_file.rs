//! Model files told apart by content: a `.safetensors` file (either convention) or an `.onnx`
//! model. Above both readers, so that neither depends on the other: [`LstmWeights::load`] is
//! defined here.

use std::path::Path;

use crate::convention::Convention;
use crate::error::{Error, Result};
use crate::files::{read_regular, ReadLimits};
use crate::onnx;
use crate::weights::LstmWeights;

impl LstmWeights {
    /// Load a `.safetensors` file, or an `.onnx` model with one LSTM node (told apart by
    /// content), within the default [`ReadLimits`]; a safetensors file's convention is detected
    /// from the keys unless given. From an `.onnx` model only the weights are kept: its
    /// attributes (clip, activations, layout, …) come with [`OnnxModel`](onnx::OnnxModel),
    /// which also chooses among several nodes.
    pub fn load(path: &Path, convention: Option<Convention>) -> Result<(Self, Convention)> {
        Self::load_with(path, convention, ReadLimits::DEFAULT)
    }

    /// [`LstmWeights::load`] within `limits`. Only a regular file is read.
    pub fn load_with(
        path: &Path,
        convention: Option<Convention>,
        limits: ReadLimits,
    ) -> Result<(Self, Convention)> {
        let bytes = read_regular(path, limits)?;
        if onnx::looks_like_onnx(&bytes) {
            if convention == Some(Convention::PyTorch) {
                return Err(Error::invalid(
                    "convention",
                    format!("{} is an .onnx model, not PyTorch safetensors", path.display()),
                ));
            }
            let model = onnx::OnnxModel::parse(&bytes, path.into(), Some(onnx::folder_of(path)), limits)?;
            return Ok((model.load(&[])?.weights, Convention::Onnx));
        }
        Self::from_safetensors(&bytes, convention).map_err(|e| e.in_file(path))
    }

    /// [`LstmWeights::key_prefix`] of the file at `path` (empty for an `.onnx` model), read
    /// within `limits`.
    pub fn key_prefix_of_file(path: &Path, convention: Convention, limits: ReadLimits) -> Result<String> {
        let bytes = read_regular(path, limits)?;
        if onnx::looks_like_onnx(&bytes) {
            return Ok(String::new());
        }
        Self::key_prefix(&bytes, convention).map_err(|e| e.in_file(path))
    }
}
