//! What a forward takes and returns ([`State`], [`Output`]), the input checks both paths share,
//! and the trait both engines implement ([`LstmForward`]).

use std::path::Path;

use crate::config::{Layout, LstmConfig};
use crate::convention::Convention;
use crate::error::{Dim, Error, Result};
use crate::files::{replace_dir, Fs};
use crate::tensor::Tensor;

/// Recurrent state of every layer and direction (index `layer·D + direction`), as in PyTorch:
/// `h` is `[L·D, B, P]` (P = H without projection) and `c` is `[L·D, B, H]` for the LSTM, and
/// `[L·D, B, 0]` for cells without a cell state (GRU, RNN).
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub h: Tensor,
    pub c: Tensor,
}

impl State {
    /// All-zero state for `batch` sequences.
    pub fn zeros(config: &LstmConfig, batch: usize) -> Result<State> {
        Ok(State {
            h: Tensor::zeros(state_shape(config, batch, config.output_size()))?,
            c: Tensor::zeros(state_shape(config, batch, config.cell_state_size()))?,
        })
    }
}

/// Row pairs `(from, to)` moved between two batches of states (a gather or a scatter) as runs of
/// consecutive rows `(from, to, rows)`: what one copy per layer moves.
pub(crate) fn row_runs(pairs: impl Iterator<Item = (usize, usize)>) -> Vec<(usize, usize, usize)> {
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (from, to) in pairs {
        match runs.last_mut() {
            Some((f, t, n)) if *f + *n == from && *t + *n == to => *n += 1,
            _ => runs.push((from, to, 1)),
        }
    }
    runs
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
    /// Final cell state `[L·D, B, H]` (`[L·D, B, 0]` for cells without one).
    pub c_n: Tensor,
}

/// The files [`Output::save_npy`] writes (all three for the LSTM; a cell without a cell state
/// has no `c_n.npy`).
pub const OUTPUT_FILES: [&str; 3] = ["y.npy", "h_n.npy", "c_n.npy"];

impl Output {
    /// Write `y.npy`, `h_n.npy` and (for the LSTM) `c_n.npy` (f32) into the directory `dir`, in the
    /// convention's file shapes, all or nothing: whatever fails, `dir` afterwards holds the
    /// complete old set (or does not exist) or the complete new one. The new set is written into
    /// a fresh hidden sibling of `dir` and swapped in atomically (`renameat2` with
    /// `RENAME_EXCHANGE` on Linux; elsewhere `dir` is first renamed aside). `dir` must hold
    /// nothing but these files: anything else is refused before anything is written.
    pub fn save_npy(self, dir: &Path, config: &LstmConfig, convention: Convention) -> Result<()> {
        let mut files = vec![
            convention.y_to_file(config, self.y)?,
            convention.state_to_file(config.layout, self.h_n)?,
        ];
        if config.cell.has_cell_state() {
            files.push(convention.state_to_file(config.layout, self.c_n)?);
        }
        replace_dir(
            dir,
            &OUTPUT_FILES,
            |staging| {
                OUTPUT_FILES
                    .iter()
                    .zip(&files)
                    .try_for_each(|(name, t)| t.write_npy(&staging.join(name)))
            },
            &Fs,
        )
    }

    /// A one-shot forward's final states of sequences of length 0 are zeros, as onnxruntime
    /// gives them (their Y rows are zeros already): the engines run them as a stream that
    /// takes no step, which keeps the initial state, and this clears it.
    pub(crate) fn clear_empty(&mut self, seq_lens: Option<&[usize]>) -> Result<()> {
        let Some(lens) = seq_lens.filter(|l| l.contains(&0)) else {
            return Ok(());
        };
        for t in [&mut self.h_n, &mut self.c_n] {
            let (batch, width) = (t.shape()[1], t.shape()[2]);
            if width == 0 {
                continue;
            }
            let mut data = t.data().to_vec();
            // Row i of [L·D, B, width] is batch element i % B.
            for (i, row) in data.chunks_mut(width).enumerate() {
                if lens[i % batch] == 0 {
                    row.fill(0.0);
                }
            }
            *t = Tensor::new(t.shape().to_vec(), data)?;
        }
        Ok(())
    }

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
pub(crate) fn state_shape(config: &LstmConfig, batch: usize, width: usize) -> Vec<usize> {
    vec![config.num_layers * config.num_directions(), batch, width]
}

/// `[T, B, I]` or `[B, T, I]`: the engine's X.
pub(crate) fn x_shape(config: &LstmConfig, dims: Dims) -> Vec<usize> {
    match config.layout {
        Layout::SeqMajor => vec![dims.seq_len, dims.batch, config.input_size],
        Layout::BatchMajor => vec![dims.batch, dims.seq_len, config.input_size],
    }
}

/// `[T, B, D·P]` or `[B, T, D·P]`: the engine's Y.
pub(crate) fn y_shape(config: &LstmConfig, dims: Dims) -> Vec<usize> {
    let width = config.num_directions() * config.output_size();
    match config.layout {
        Layout::SeqMajor => vec![dims.seq_len, dims.batch, width],
        Layout::BatchMajor => vec![dims.batch, dims.seq_len, width],
    }
}

/// Whether a sequence length may be 0 (a stream with no steps in this chunk keeps its state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lengths {
    /// Training: 1..=T.
    AtLeastOne,
    /// Forwards and streaming chunks: 0..=T.
    MayBeZero,
}

/// Check input, initial state and lengths (each in 1..=T, as training needs) against the
/// config; returns T and B.
pub(crate) fn check_request(
    config: &LstmConfig,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
) -> Result<Dims> {
    check_request_with(config, input, initial, seq_lens, Lengths::AtLeastOne)
}

/// [`check_request`] for a one-shot forward, whose lengths may be 0 ([`Output::clear_empty`]).
pub(crate) fn check_forward_request(
    config: &LstmConfig,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
) -> Result<Dims> {
    check_request_with(config, input, initial, seq_lens, Lengths::MayBeZero)
}

fn check_request_with(
    config: &LstmConfig,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
    lengths: Lengths,
) -> Result<Dims> {
    let dims = check_input(config, input)?;
    if let Some(state) = initial {
        for (what, t, width) in [
            ("initial h0", &state.h, config.output_size()),
            ("initial c0", &state.c, config.cell_state_size()),
        ] {
            let expected = state_shape(config, dims.batch, width);
            if t.shape() != expected.as_slice() {
                return Err(Error::shape(what, &expected, t.shape()));
            }
        }
    }
    check_lengths(seq_lens, dims, lengths)?;
    Ok(dims)
}

/// Check X against the config; returns T and B.
pub(crate) fn check_input(config: &LstmConfig, input: &Tensor) -> Result<Dims> {
    let (expected, t_axis, b_axis) = match config.layout {
        Layout::SeqMajor => ([Dim::Named("T"), Dim::Named("B")], 0, 1),
        Layout::BatchMajor => ([Dim::Named("B"), Dim::Named("T")], 1, 0),
    };
    let s = input.shape();
    if s.len() != 3 || s[2] != config.input_size {
        let [a, b] = expected;
        return Err(Error::shape_pattern(
            "input X",
            vec![a, b, Dim::Known("I", config.input_size)],
            s,
        ));
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
pub(crate) fn check_lengths(seq_lens: Option<&[usize]>, dims: Dims, lengths: Lengths) -> Result<()> {
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
) -> Result<Vec<usize>> {
    if start.checked_add(len).is_none_or(|end| end > seq_len) {
        return Err(Error::invalid(
            "chunk_lengths",
            format!("chunk {start}..{start}+{len} is outside the sequence of {seq_len} steps"),
        ));
    }
    if let Some(lens) = seq_lens {
        check_lengths(Some(lens), Dims { seq_len, batch }, Lengths::MayBeZero)?;
    }
    Ok((0..batch)
        .map(|b| {
            let total = seq_lens.map_or(seq_len, |l| l[b]);
            total.saturating_sub(start).min(len)
        })
        .collect())
}

/// What both engines do, the GPU [`Lstm`](crate::Lstm) and the CPU reference
/// [`CpuLstm`](crate::CpuLstm), so that code can run either (the CLI, conformance runs and the
/// tests do). In the spirit of candle-nn's `RNN` trait: a whole forward, and streams fed chunk
/// by chunk with their state kept by the engine.
pub trait LstmForward {
    /// The state of a batch of streams between chunks: an `LstmState` resident on the GPU, a
    /// host [`State`] on the CPU.
    type Stream;

    fn config(&self) -> &LstmConfig;

    /// Run with per-sequence lengths (`seq_lens[b]` in 0..=T); `None` means all T.
    fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output>;

    /// Run every sequence to length T.
    fn forward(&self, input: &Tensor, initial: Option<&State>) -> Result<Output> {
        self.forward_with_lens(input, initial, None)
    }

    /// Streams for the batch of `initial`, starting from it.
    fn start_stream(&self, initial: &State) -> Result<Self::Stream>;

    /// Feed the next chunk of each stream and return its Y; `seq_lens[b]` in 0..=T is stream b's
    /// steps in this chunk (0 keeps its state).
    fn forward_stream(
        &self,
        input: &Tensor,
        stream: &mut Self::Stream,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor>;

    /// The streams' state, on the host.
    fn stream_state(&self, stream: &Self::Stream) -> Result<State>;

    /// The forward of [`LstmForward::forward_with_lens`] fed through the streams `chunk` steps at
    /// a time. A unidirectional LSTM gives the same outputs for any chunk size; a bidirectional
    /// layer's reverse direction runs within each chunk.
    fn forward_chunked(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        chunk: usize,
    ) -> Result<Output> {
        let config = self.config();
        let dims = check_forward_request(config, input, initial, seq_lens)?;
        if chunk == 0 {
            return Err(Error::invalid("chunk", "must be at least 1"));
        }
        let axis = config.layout.time_axis();
        let initial = match initial {
            Some(s) => s.clone(),
            None => State::zeros(config, dims.batch)?,
        };
        let mut stream = self.start_stream(&initial)?;
        let mut ys = Vec::new();
        for start in (0..dims.seq_len).step_by(chunk) {
            let len = chunk.min(dims.seq_len - start);
            let x = input.slice_axis(axis, start, len)?;
            let lens = chunk_lengths(seq_lens, dims.batch, dims.seq_len, start, len)?;
            ys.push(self.forward_stream(&x, &mut stream, Some(&lens))?);
        }
        let state = self.stream_state(&stream)?;
        let mut out = Output {
            y: Tensor::concat(axis, &ys)?,
            h_n: state.h,
            c_n: state.c,
        };
        out.clear_empty(seq_lens)?;
        Ok(out)
    }
}

/// An engine shared through an `Arc` is that engine.
impl<T: LstmForward> LstmForward for std::sync::Arc<T> {
    type Stream = T::Stream;

    fn config(&self) -> &LstmConfig {
        (**self).config()
    }

    fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        (**self).forward_with_lens(input, initial, seq_lens)
    }

    fn start_stream(&self, initial: &State) -> Result<Self::Stream> {
        (**self).start_stream(initial)
    }

    fn forward_stream(
        &self,
        input: &Tensor,
        stream: &mut Self::Stream,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        (**self).forward_stream(input, stream, seq_lens)
    }

    fn stream_state(&self, stream: &Self::Stream) -> Result<State> {
        (**self).stream_state(stream)
    }
}
