//! The CPU reference: plain loops, f64 accumulation, written to be obviously correct. It is the
//! oracle for every GPU test and a device users can pick (`--device cpu`).

mod gru;
mod lstm;
mod rnn;

use crate::cell::Cell;
use crate::config::LstmConfig;
use crate::error::Result;
use crate::forward::{
    check_forward_request, check_input, check_lengths, check_request, state_shape, y_shape, Dims, Lengths,
    LstmForward, Output, State,
};
use crate::tensor::{elements, zeroed, Tensor};
use crate::weights::{DirectionWeights, LstmWeights};

/// An LSTM evaluated on the CPU; same call shape as the GPU engine.
pub struct CpuLstm {
    config: LstmConfig,
    weights: LstmWeights,
}

impl CpuLstm {
    /// The reference for `config`, on `weights` rounded to the configuration's precision (as
    /// the GPU engine holds them).
    pub fn new(config: &LstmConfig, weights: &LstmWeights) -> Result<Self> {
        weights.check_config(config)?;
        Ok(CpuLstm {
            config: config.clone(),
            weights: weights.rounded(config.weights_precision),
        })
    }

    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// The weights it runs on (rounded to the configuration's precision).
    pub fn weights(&self) -> &LstmWeights {
        &self.weights
    }

    /// Run every sequence to length T.
    pub fn forward(&self, input: &Tensor, initial: Option<&State>) -> Result<Output> {
        self.forward_with_lens(input, initial, None)
    }

    /// Run with per-sequence lengths (`seq_lens[b]` in 0..=T; a sequence of length 0 gives zero Y
    /// rows and zero final states); `None` means all T.
    pub fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        let dims = check_forward_request(&self.config, input, initial, seq_lens)?;
        let mut out = forward(&self.config, &self.weights, input, initial, seq_lens, dims)?;
        out.clear_empty(seq_lens)?;
        Ok(out)
    }
}

impl CpuLstm {
    /// Feed the next chunk of each stream, as [`Lstm::forward_stream`](crate::Lstm::forward_stream)
    /// does on the GPU: `state` (`[L·D,B,P]` / `[L·D,B,H]`) is read and replaced, Y of the chunk is
    /// returned, and `seq_lens[b]` in 0..=T is stream b's steps in this chunk (0 keeps its state).
    pub fn forward_stream(
        &self,
        input: &Tensor,
        state: &mut State,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        let dims = check_input(&self.config, input)?;
        check_lengths(seq_lens, dims, Lengths::MayBeZero)?;
        check_request(&self.config, input, Some(state), None)?;
        let out = forward(&self.config, &self.weights, input, Some(state), seq_lens, dims)?;
        *state = State {
            h: out.h_n,
            c: out.c_n,
        };
        Ok(out.y)
    }
}

impl LstmForward for CpuLstm {
    type Stream = State;

    fn config(&self) -> &LstmConfig {
        &self.config
    }

    fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        CpuLstm::forward_with_lens(self, input, initial, seq_lens)
    }

    fn start_stream(&self, initial: &State) -> Result<State> {
        Ok(initial.clone())
    }

    fn forward_stream(
        &self,
        input: &Tensor,
        stream: &mut State,
        seq_lens: Option<&[usize]>,
    ) -> Result<Tensor> {
        CpuLstm::forward_stream(self, input, stream, seq_lens)
    }

    fn stream_state(&self, stream: &State) -> Result<State> {
        Ok(stream.clone())
    }
}

/// One step of the configuration's cell, one direction, one sequence: updates `h` (P values)
/// and, for a cell that carries one, `c` (H values).
fn step(cfg: &LstmConfig, d: usize, dw: &DirectionWeights, x: &[f32], h: &mut [f64], c: &mut [f64]) {
    match cfg.cell {
        Cell::Lstm => lstm::step(cfg, d, dw, x, h, c),
        Cell::Gru => gru::step(cfg, d, dw, x, h),
        Cell::Rnn => rnn::step(cfg, d, dw, x, h),
    }
}

fn forward(
    cfg: &LstmConfig,
    weights: &LstmWeights,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
    dims: Dims,
) -> Result<Output> {
    let Dims {
        seq_len: t_max,
        batch,
    } = dims;
    let (hidden, out, nd) = (cfg.cell_state_size(), cfg.output_size(), cfg.num_directions());
    let row = |t: usize, b: usize| cfg.layout.row(t, b, t_max, batch);
    // Every size is checked, and every buffer allocated fallibly, before the work starts.
    let (h_shape, c_shape, y_shape) = (
        state_shape(cfg, batch, out),
        state_shape(cfg, batch, hidden),
        y_shape(cfg, dims),
    );
    let (mut h_n, mut c_n) = (
        zeroed(elements(&h_shape)?, "h_n")?,
        zeroed(elements(&c_shape)?, "c_n")?,
    );
    let y_len = elements(&y_shape)?;
    let mut x: Vec<f32> = input.data().to_vec();
    let mut y = Vec::new();
    for (l, layer) in weights.layers().iter().enumerate() {
        let inp = cfg.layer_input_size(l);
        y = zeroed(y_len, "Y")?;
        for (d, dw) in layer.iter().enumerate() {
            for b in 0..batch {
                let len = seq_lens.map_or(t_max, |s| s[b]);
                let slot = (l * nd + d) * batch + b;
                let load = |t: Option<&Tensor>, n: usize| -> Vec<f64> {
                    t.map_or(vec![0.0; n], |t| {
                        t.data()[slot * n..][..n].iter().map(|&v| v as f64).collect()
                    })
                };
                let mut hs = load(initial.map(|s| &s.h), out);
                let mut cs = load(initial.map(|s| &s.c), hidden);
                for s in 0..len {
                    let t = if cfg.direction.is_reversed(d) {
                        len - 1 - s
                    } else {
                        s
                    };
                    step(cfg, d, dw, &x[row(t, b) * inp..][..inp], &mut hs, &mut cs);
                    let dst = &mut y[(row(t, b) * nd + d) * out..][..out];
                    for (o, v) in dst.iter_mut().zip(&hs) {
                        *o = *v as f32;
                    }
                }
                for (o, v) in h_n[slot * out..][..out].iter_mut().zip(&hs) {
                    *o = *v as f32;
                }
                for (o, v) in c_n[slot * hidden..][..hidden].iter_mut().zip(&cs) {
                    *o = *v as f32;
                }
            }
        }
        x = y.clone();
    }
    Ok(Output {
        y: Tensor::new(y_shape, y)?,
        h_n: Tensor::new(h_shape, h_n)?,
        c_n: Tensor::new(c_shape, c_n)?,
    })
}
