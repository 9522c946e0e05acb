//! `LstmConfig`: the sizes and options of a stacked LSTM, independent of where it runs.

use crate::activation::Activation;
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
    /// The axis of T in X and Y: 0 for seq-major, 1 for batch-major.
    pub fn time_axis(self) -> usize {
        match self {
            Layout::SeqMajor => 0,
            Layout::BatchMajor => 1,
        }
    }

    /// Row index of (timestep `t`, batch element `b`) in a `[T,B,..]` or `[B,T,..]` array.
    pub fn row(self, t: usize, b: usize, seq_len: usize, batch: usize) -> usize {
        match self {
            Layout::SeqMajor => t * batch + b,
            Layout::BatchMajor => b * seq_len + t,
        }
    }
}

/// How the GPU engine stores the weights. Accumulation and the cell state are f32 either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    #[default]
    F32,
    /// Every weight (W, R, W_hr, peepholes, and each pair of biases once summed) rounded to f16;
    /// W, R and W_hr are stored as f16 on the GPU, halving their memory and bandwidth. The CPU
    /// reference runs on the same rounded weights ([`LstmWeights::rounded`](crate::LstmWeights::rounded)).
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }

    /// `value` as this precision holds it.
    pub fn round(self, value: f32) -> f32 {
        match self {
            Precision::F32 => value,
            Precision::F16 => half::f16::from_f32(value).to_f32(),
        }
    }
}

/// Sizes and options of a stacked LSTM: the union of PyTorch's `nn.LSTM` and the ONNX `LSTM`
/// operator. [`Default`] is a one-layer forward LSTM of size 1 with biases and the standard
/// activations; weights loaded from a file give the sizes through `LstmWeights::config`.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmConfig {
    /// I: features per input step.
    pub input_size: usize,
    /// H: hidden units (cell size) per direction.
    pub hidden_size: usize,
    /// L: stacked layers; layer k>0 takes D·P inputs (P = H without projection).
    pub num_layers: usize,
    pub direction: Direction,
    /// Whether the gates have biases.
    pub bias: bool,
    pub layout: Layout,
    /// PyTorch `proj_size`: h_t = W_hr·(o⊙h(c_t)) has P < H values. `None`: h has H values.
    pub proj_size: Option<usize>,
    /// ONNX peepholes `P`: i and f see c_{t−1}, o sees c_t.
    pub peepholes: bool,
    /// ONNX `clip`: every gate pre-activation (after biases and peepholes) is clamped to
    /// [−clip, clip]. Must be positive.
    pub clip: Option<f32>,
    /// ONNX `input_forget`: the forget gate is coupled to the input gate, f = 1 − i.
    pub input_forget: bool,
    /// ONNX `activations` (f, g, h) per direction: empty for (Sigmoid, Tanh, Tanh) everywhere,
    /// else 3·D entries.
    pub activations: Vec<Activation>,
    /// How the weights are stored ([`Precision`]).
    pub weights_precision: Precision,
}

impl Default for LstmConfig {
    fn default() -> Self {
        LstmConfig {
            input_size: 1,
            hidden_size: 1,
            num_layers: 1,
            direction: Direction::Forward,
            bias: true,
            layout: Layout::SeqMajor,
            proj_size: None,
            peepholes: false,
            clip: None,
            input_forget: false,
            activations: Vec::new(),
            weights_precision: Precision::F32,
        }
    }
}

impl LstmConfig {
    /// D: 1 or 2.
    pub fn num_directions(&self) -> usize {
        self.direction.num_directions()
    }

    /// Size of h (and of each direction's part of y): P with projection, else H.
    pub fn output_size(&self) -> usize {
        self.proj_size.unwrap_or(self.hidden_size)
    }

    /// Input width of layer `layer`: I for the first, D·P (or D·H) after.
    pub fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.num_directions() * self.output_size()
        }
    }

    /// (f, g, h) of direction `d`.
    pub fn activations_of(&self, d: usize) -> [Activation; 3] {
        match self.activations.get(3 * d..3 * d + 3) {
            Some([f, g, h]) => [*f, *g, *h],
            _ => Activation::DEFAULT,
        }
    }

    /// Refuse sizes of zero and option values outside their domain.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ] {
            if v == 0 {
                return Err(Error::invalid(format!("config.{what}"), "must be at least 1"));
            }
        }
        if let Some(p) = self.proj_size {
            if p == 0 || p >= self.hidden_size {
                return Err(Error::invalid(
                    "proj_size",
                    format!("{p} must be in 1..hidden_size ({})", self.hidden_size),
                ));
            }
        }
        if let Some(clip) = self.clip {
            if !clip.is_finite() || clip <= 0.0 {
                return Err(Error::invalid(
                    "clip",
                    format!("{clip} must be a positive finite number (leave clip out for none)"),
                ));
            }
        }
        if let Some(a) = self
            .activations
            .iter()
            .find(|a| !a.alpha.is_finite() || !a.beta.is_finite())
        {
            return Err(Error::invalid(
                format!("activation {}", a.kind.name()),
                format!("alpha {} and beta {} must be finite", a.alpha, a.beta),
            ));
        }
        // Every weight tensor's element count must fit in memory arithmetic.
        let (d, h, p) = (self.num_directions(), self.hidden_size, self.output_size());
        for l in 0..self.num_layers {
            let input = self.layer_input_size(l);
            [d, 4, h]
                .iter()
                .try_fold(1usize, |acc, &n| acc.checked_mul(n))
                .and_then(|rows| rows.checked_mul(input.checked_add(p)?.checked_add(2)?))
                .and_then(|n| n.checked_mul(4))
                .and_then(|_| h.checked_mul(p)?.checked_mul(d)?.checked_mul(4))
                .ok_or_else(|| Error::Overflow {
                    what: format!("the weights of layer {l}"),
                })?;
        }
        let d = self.num_directions();
        if !self.activations.is_empty() && self.activations.len() != 3 * d {
            return Err(Error::invalid(
                "activations",
                format!(
                    "{} given; {:?} takes {} (f, g, h per direction)",
                    self.activations.len(),
                    self.direction,
                    3 * d
                ),
            ));
        }
        Ok(())
    }
}
