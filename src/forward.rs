//! What a forward takes and returns ([`State`], [`Output`]) and the input checks both paths share.

use crate::config::{Layout, LstmConfig};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Largest absolute GPU-vs-CPU difference the conformance checks accept on any element.
pub const CONFORMANCE_TOLERANCE: f32 = 1e-4;

/// Recurrent state of every layer and direction (index `layer·D + direction`), as in PyTorch:
/// `h` is `[L·D, B, P]` (P = H without projection) and `c` is `[L·D, B, H]`.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub h: Tensor,
    pub c: Tensor,
}

impl State {
    /// All-zero state for `batch` sequences.
    pub fn zeros(config: &LstmConfig, batch: usize) -> State {
        State {
            h: Tensor::zeros(state_shape(config, batch, config.output_size())),
            c: Tensor::zeros(state_shape(config, batch, config.hidden_size)),
        }
    }
}

/// Result of a forward.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Every hidden state: `[T, B, D·P]` (seq-major) or `[B, T, D·P]` (batch-major), P = H
    /// without projection; forward direction first. Steps past a sequence's length are 0.
    pub y: Tensor,
    /// Final hidden state `[L·D, B, P]` (P = H without projection), taken at each sequence's
    /// last valid step.
    pub h_n: Tensor,
    /// Final cell state `[L·D, B, H]`.
    pub c_n: Tensor,
}

impl Output {
    /// Largest element-wise difference over `y`, `h_n` and `c_n`; `None` if shapes differ.
    pub fn max_abs_diff(&self, other: &Output) -> Option<f32> {
        let y = self.y.max_abs_diff(&other.y)?;
        let h = self.h_n.max_abs_diff(&other.h_n)?;
        let c = self.c_n.max_abs_diff(&other.c_n)?;
        Some(y.max(h).max(c))
    }
}

/// Sequence length T and batch size B of a checked request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dims {
    pub seq_len: usize,
    pub batch: usize,
}

/// `[L·D, B, width]`: width P for h, H for c.
pub fn state_shape(config: &LstmConfig, batch: usize, width: usize) -> Vec<usize> {
    vec![config.num_layers * config.num_directions(), batch, width]
}

/// `[T, B, D·P]` or `[B, T, D·P]`: the engine's Y.
pub fn y_shape(config: &LstmConfig, dims: Dims) -> Vec<usize> {
    let width = config.num_directions() * config.output_size();
    match config.layout {
        Layout::SeqMajor => vec![dims.seq_len, dims.batch, width],
        Layout::BatchMajor => vec![dims.batch, dims.seq_len, width],
    }
}

/// Whether a sequence length may be 0 (a stream with no steps in this chunk keeps its state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lengths {
    /// One-shot forwards: 1..=T.
    AtLeastOne,
    /// Streaming chunks: 0..=T.
    MayBeZero,
}

/// Check input, initial state and lengths (each in 1..=T) against the config; returns T and B.
pub fn check_request(
    config: &LstmConfig,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
) -> Result<Dims> {
    let dims = check_input(config, input)?;
    if let Some(state) = initial {
        for (what, t, width) in [
            ("initial h0", &state.h, config.output_size()),
            ("initial c0", &state.c, config.hidden_size),
        ] {
            let expected = state_shape(config, dims.batch, width);
            if t.shape() != expected.as_slice() {
                return Err(Error::shape(what, &expected, t.shape()));
            }
        }
    }
    check_lengths(seq_lens, dims, Lengths::AtLeastOne)?;
    Ok(dims)
}

/// Check X against the config; returns T and B.
pub fn check_input(config: &LstmConfig, input: &Tensor) -> Result<Dims> {
    let (layout_name, t_axis, b_axis) = match config.layout {
        Layout::SeqMajor => ("[T, B, I]", 0, 1),
        Layout::BatchMajor => ("[B, T, I]", 1, 0),
    };
    let s = input.shape();
    if s.len() != 3 || s[2] != config.input_size {
        return Err(Error::Shape {
            what: "input X".into(),
            expected: format!("{layout_name} with I = {}", config.input_size),
            got: format!("{s:?}"),
        });
    }
    let dims = Dims {
        seq_len: s[t_axis],
        batch: s[b_axis],
    };
    if dims.seq_len == 0 || dims.batch == 0 {
        return Err(Error::invalid(
            "input X",
            format!("sequence length and batch must be at least 1, got shape {s:?}"),
        ));
    }
    Ok(dims)
}

/// Check per-sequence lengths: one per batch element, each at most T (and at least 1 or 0).
pub fn check_lengths(seq_lens: Option<&[usize]>, dims: Dims, lengths: Lengths) -> Result<()> {
    let Some(lens) = seq_lens else { return Ok(()) };
    if lens.len() != dims.batch {
        return Err(Error::shape("seq_lens", &[dims.batch], &[lens.len()]));
    }
    let min = match lengths {
        Lengths::AtLeastOne => 1,
        Lengths::MayBeZero => 0,
    };
    if let Some((b, &len)) = lens
        .iter()
        .enumerate()
        .find(|(_, &l)| l < min || l > dims.seq_len)
    {
        return Err(Error::invalid(
            "seq_lens",
            format!(
                "length {len} of batch element {b} is outside {min}..={}",
                dims.seq_len
            ),
        ));
    }
    Ok(())
}

/// Each stream's steps inside the chunk `[start, start + len)` of a sequence whose streams have
/// `seq_lens` valid steps (all `seq_len` when `None`): what a streaming call takes for that chunk.
pub fn chunk_lengths(
    seq_lens: Option<&[usize]>,
    batch: usize,
    seq_len: usize,
    start: usize,
    len: usize,
) -> Vec<usize> {
    (0..batch)
        .map(|b| {
            let total = seq_lens.map_or(seq_len, |l| l[b]);
            total.saturating_sub(start).min(len)
        })
        .collect()
}
