//! `LstmConfig`: the sizes and options of a stacked LSTM, independent of where it runs.

use crate::activation::Activation;
use crate::cell::Cell;
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
    /// W, R and W_hr quantized symmetrically per output row (one scale per row, its largest
    /// magnitude over 127) and stored as int8 on the GPU, four to a u32, dequantized in the
    /// kernels; peepholes and biases stay exact, and accumulation, state and outputs f32. The CPU
    /// reference runs on the same dequantized weights.
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }

    /// `value` as this precision holds it, where the precision holds each value alone: int8
    /// rounds whole rows to their scale (`LstmWeights::rounded`), so a lone value stays as it is.
    pub fn round(self, value: f32) -> f32 {
        match self {
            Precision::F32 | Precision::Int8 => value,
            Precision::F16 => half::f16::from_f32(value).to_f32(),
        }
    }

    /// The precision called `name` ("f32", "f16" or "int8").
    pub fn from_name(name: &str) -> Option<Precision> {
        [Precision::F32, Precision::F16, Precision::Int8]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// The int8 scale of a row whose largest magnitude is `max_abs`: the row's values become
/// integers in −127..=127 times it (1 for a row of zeros).
pub(crate) fn int8_scale(max_abs: f32) -> f32 {
    let scale = max_abs / 127.0;
    if scale > 0.0 {
        scale
    } else {
        1.0
    }
}

/// `value` on the int8 grid of `scale`: the integer the GPU stores.
pub(crate) fn int8_quantize(value: f32, scale: f32) -> i8 {
    (value / scale).round().clamp(-127.0, 127.0) as i8
}

/// `values` (one row) quantized to int8 with the row's scale and dequantized, as the GPU reads them.
pub(crate) fn int8_row(values: &[f32]) -> Vec<f32> {
    let scale = int8_scale(values.iter().fold(0.0f32, |m, v| m.max(v.abs())));
    values
        .iter()
        .map(|&v| int8_quantize(v, scale) as f32 * scale)
        .collect()
}

/// Sizes and options of a stacked LSTM: the union of PyTorch's `nn.LSTM` and the ONNX `LSTM`
/// operator. [`Default`] is a one-layer forward LSTM of size 1 with biases and the standard
/// activations; weights loaded from a file give the sizes through `LstmWeights::config`.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmConfig {
    /// The recurrent cell ([`Cell`]): the LSTM unless said otherwise.
    pub cell: Cell,
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
    /// ONNX `activations` per direction (the LSTM's f, g, h; the GRU's f, g; the RNN's f):
    /// empty for the cell's defaults everywhere, else [`Cell::activations`]·D entries.
    pub activations: Vec<Activation>,
    /// GRU only, ONNX `linear_before_reset`: the reset gate multiplies R_n·h + Rb_n (PyTorch's
    /// `nn.GRU`, `true`) instead of h before the product (ONNX's default, `false`). Like the
    /// cell, it belongs to the weights (`LstmWeights::linear_before_reset`).
    pub linear_before_reset: bool,
    /// How the weights are stored ([`Precision`]).
    pub weights_precision: Precision,
}

impl Default for LstmConfig {
    fn default() -> Self {
        LstmConfig {
            cell: Cell::Lstm,
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
            linear_before_reset: false,
            weights_precision: Precision::F32,
        }
    }
}

impl LstmConfig {
    /// D: 1 or 2.
    pub fn num_directions(&self) -> usize {
        self.direction.num_directions()
    }

    /// G: the cell's gates per hidden unit, the row blocks of W, R and the biases.
    pub fn gates(&self) -> usize {
        self.cell.gates()
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

    /// The activations of direction `d` in three slots (f, g, h): the cell's own in the first
    /// [`Cell::activations`], the LSTM's defaults in the slots a cell does not use.
    pub fn activations_of(&self, d: usize) -> [Activation; 3] {
        let n = self.cell.activations();
        let own = self
            .activations
            .get(n * d..n * d + n)
            .unwrap_or(self.cell.default_activations());
        let mut all = Activation::DEFAULT;
        all[..n].copy_from_slice(own);
        all
    }

    /// The activations of direction `d` the cell uses ([`Cell::activations`] of them).
    pub fn cell_activations_of(&self, d: usize) -> Vec<Activation> {
        self.activations_of(d)[..self.cell.activations()].to_vec()
    }

    /// Whether the cell scales h before a recurrent product (a GRU without
    /// `linear_before_reset`): two dependent products per step, which the GPU runs in its
    /// sequence kernel only.
    pub fn resets_before_product(&self) -> bool {
        self.cell == Cell::Gru && !self.linear_before_reset
    }

    /// Width of the cell state c: H for the LSTM, 0 for cells without one.
    pub fn cell_state_size(&self) -> usize {
        if self.cell.has_cell_state() {
            self.hidden_size
        } else {
            0
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
        let lstm_only = [
            ("proj_size", self.proj_size.is_some()),
            ("peepholes", self.peepholes),
            ("input_forget", self.input_forget),
        ];
        if let Some((option, _)) = lstm_only.iter().find(|(_, set)| *set && self.cell != Cell::Lstm) {
            return Err(Error::invalid(
                *option,
                format!("is an LSTM option; {} cell has none", self.cell.indefinite()),
            ));
        }
        if self.linear_before_reset && self.cell != Cell::Gru {
            return Err(Error::invalid(
                "linear_before_reset",
                format!("is a GRU option; {} cell has none", self.cell.indefinite()),
            ));
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
            [d, self.gates(), h]
                .iter()
                .try_fold(1usize, |acc, &n| acc.checked_mul(n))
                .and_then(|rows| rows.checked_mul(input.checked_add(p)?.checked_add(2)?))
                .and_then(|n| n.checked_mul(4))
                .and_then(|_| h.checked_mul(p)?.checked_mul(d)?.checked_mul(4))
                .ok_or_else(|| Error::Overflow {
                    what: format!("the weights of layer {l}"),
                })?;
            // The GPU holds four lanes per unit, whatever the cell's gates.
            [d, 4, h, input.saturating_add(p), 4]
                .iter()
                .try_fold(1usize, |acc, &n| acc.checked_mul(n))
                .ok_or_else(|| Error::Overflow {
                    what: format!("the weights of layer {l}"),
                })?;
        }
        let d = self.num_directions();
        let per_direction = self.cell.activations();
        if !self.activations.is_empty() && self.activations.len() != per_direction * d {
            return Err(Error::invalid(
                "activations",
                format!(
                    "{} given; {:?} takes {} ({} per direction)",
                    self.activations.len(),
                    self.direction,
                    per_direction * d,
                    self.cell.activation_roles()
                ),
            ));
        }
        Ok(())
    }
}

/// The gate options a caller gives by name (CLI flags, Python keyword arguments): ONNX's clip,
/// input_forget and activations with their alphas and betas. They configure weights that do not
/// carry them (a `.safetensors` file), and are checked against an `.onnx` node that does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateOptions {
    pub clip: Option<f32>,
    pub input_forget: bool,
    /// The cell's activations per direction; `None` with alphas or betas given means the
    /// cell's default functions.
    pub activations: Option<Vec<String>>,
    pub activation_alpha: Vec<f32>,
    pub activation_beta: Vec<f32>,
}

/// A gate option that disagrees with a model's own attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Contradiction {
    /// `clip`, `input_forget` or `activations`.
    pub option: &'static str,
    pub given: String,
    pub model: String,
}

impl GateOptions {
    /// The activations these options name for `directions` directions of `cell` (`None`: none
    /// named).
    pub fn activations(&self, cell: Cell, directions: usize) -> Result<Option<Vec<Activation>>> {
        if self.activations.is_none() && self.activation_alpha.is_empty() && self.activation_beta.is_empty() {
            return Ok(None);
        }
        let names = self.activations.clone().unwrap_or_else(|| {
            let one = cell.default_activation_names();
            (0..directions).flat_map(|_| one.clone()).collect()
        });
        Activation::parse_list_for(
            &names,
            &self.activation_alpha,
            &self.activation_beta,
            directions,
            cell.activations(),
        )
        .map(Some)
    }

    /// Set these options in `config` (whose cell and direction fix how many activations they
    /// take).
    pub fn apply(&self, config: &mut LstmConfig) -> Result<()> {
        config.clip = self.clip;
        config.input_forget = self.input_forget;
        if let Some(activations) = self.activations(config.cell, config.num_directions())? {
            config.activations = activations;
        }
        Ok(())
    }

    /// The first option given that disagrees with `model`'s configuration (options left out,
    /// and ones that repeat the model's value, agree).
    pub fn contradiction(&self, model: &LstmConfig) -> Result<Option<Contradiction>> {
        if let Some(clip) = self.clip.filter(|&c| Some(c) != model.clip) {
            return Ok(Some(Contradiction {
                option: "clip",
                given: format!("{clip:?}"),
                model: model.clip.map_or("no clip".into(), |c| format!("clip {c:?}")),
            }));
        }
        if self.input_forget && !model.input_forget {
            return Ok(Some(Contradiction {
                option: "input_forget",
                given: "true".into(),
                model: "input_forget 0".into(),
            }));
        }
        let directions = model.num_directions();
        if let Some(given) = self.activations(model.cell, directions)? {
            let own: Vec<Activation> = (0..directions)
                .flat_map(|d| model.cell_activations_of(d))
                .collect();
            if given != own {
                let show = |a: &[Activation]| a.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
                return Ok(Some(Contradiction {
                    option: "activations",
                    given: show(&given),
                    model: show(&own),
                }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options configure a model, agree with a model that has them, and name the first that
    /// does not.
    #[test]
    fn gate_options_apply_and_contradict() {
        let options = GateOptions {
            clip: Some(2.5),
            input_forget: true,
            activations: Some(vec!["HardSigmoid".into(), "Tanh".into(), "Tanh".into()]),
            activation_alpha: vec![0.3],
            activation_beta: vec![0.4],
        };
        let mut config = LstmConfig::default();
        options.apply(&mut config).unwrap();
        assert_eq!((config.clip, config.input_forget), (Some(2.5), true));
        assert_eq!(config.activations[0].to_string(), "HardSigmoid(0.3, 0.4)");
        assert_eq!(options.contradiction(&config).unwrap(), None);
        assert_eq!(GateOptions::default().contradiction(&config).unwrap(), None);
        let other = GateOptions {
            clip: Some(1.0),
            ..options.clone()
        };
        let c = other.contradiction(&config).unwrap().expect("clip differs");
        assert_eq!(
            (c.option, c.given.as_str(), c.model.as_str()),
            ("clip", "1.0", "clip 2.5")
        );
        // Alphas alone apply to the default functions, whose count the direction fixes.
        let alphas = GateOptions {
            activation_alpha: vec![0.5],
            ..GateOptions::default()
        };
        assert!(
            alphas.activations(Cell::Lstm, 1).is_err(),
            "Sigmoid, Tanh, Tanh take no alpha"
        );
        assert_eq!(GateOptions::default().activations(Cell::Lstm, 2).unwrap(), None);
        // A GRU takes two per direction, an RNN one.
        let gru = GateOptions {
            activations: Some(vec!["Sigmoid".into(), "Relu".into()]),
            ..GateOptions::default()
        };
        assert_eq!(gru.activations(Cell::Gru, 1).unwrap().unwrap().len(), 2);
        assert!(gru.activations(Cell::Rnn, 1).is_err());
        let mut rnn = LstmConfig {
            cell: Cell::Rnn,
            ..LstmConfig::default()
        };
        assert_eq!(rnn.activations_of(0)[0].kind.name(), "Tanh");
        rnn.peepholes = true;
        assert!(rnn.validate().unwrap_err().to_string().contains("LSTM option"));
    }
}
