//! `LstmWeights`: the weights of every layer and direction in the engine's gate order (i, f, g, o),
//! loaded from and saved to `.safetensors` in either [`Convention`].

use std::collections::BTreeSet;

use rand::{rngs::StdRng, Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};

use crate::cell::Cell;
use crate::config::{Direction, Layout, LstmConfig, Precision};
use crate::convention::Convention;
use crate::error::{Dim, Error, Result};
use crate::tensor::Tensor;

mod safetensors_file;

/// The largest `.safetensors` header (its JSON table of tensors) we parse: thousands of tensors
/// fit in far less, and a header of millions of empty tensors is refused before it is parsed.
pub const MAX_SAFETENSORS_HEADER: u64 = 4 << 20;

/// Weights of one direction of one layer. Rows are G blocks of H (G = [`Cell::gates`]), in the
/// engine's gate order: the LSTM's i, f, g, o; the GRU's z, r, n (ONNX's order); the RNN's one.
/// P below is the projection size, or H without projection.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectionWeights {
    /// `[G·H, in]`: input weights (in = I for layer 0, D·P after).
    pub w_ih: Vec<f32>,
    /// `[G·H, P]`: recurrent weights.
    pub w_hh: Vec<f32>,
    /// `([G·H], [G·H])`: input and recurrent biases (ONNX's Wb and Rb); `None` for a bias-free
    /// model.
    pub bias: Option<(Vec<f32>, Vec<f32>)>,
    /// `[3H]`: peephole weights in the order i, f, o (ONNX stores i, o, f).
    pub peephole: Option<Vec<f32>>,
    /// `[P, H]`: projection of `o⊙h(c)` to the P values of h (PyTorch `weight_hr`).
    pub w_hr: Option<Vec<f32>>,
}

/// Weights of a stacked, optionally bidirectional recurrent network of one [`Cell`].
#[derive(Clone, Debug, PartialEq)]
pub struct LstmWeights {
    cell: Cell,
    /// The GRU's `linear_before_reset`, which fixes what its candidate's biases mean.
    linear_before_reset: bool,
    input_size: usize,
    hidden_size: usize,
    proj_size: Option<usize>,
    direction: Direction,
    /// `[L][D]`.
    layers: Vec<Vec<DirectionWeights>>,
    /// `[L][D]`: the int8 scale of rows that came quantized, which int8 storage keeps.
    row_scales: Option<Vec<Vec<RowScales>>>,
}

/// The int8 scale of each row of one direction's W and R (`[G·H]` each, the engine's gate
/// order) where the row came quantized (a `DynamicQuantizeLSTM` node) as integers in −128..=127
/// times the scale: [`Precision::Int8`] stores such rows exactly, not requantized.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RowScales {
    pub w_ih: Vec<Option<f32>>,
    pub w_hh: Vec<Option<f32>>,
}

impl LstmWeights {
    /// LSTM weights from per-layer, per-direction parts; every size is checked against the
    /// others.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        direction: Direction,
        layers: Vec<Vec<DirectionWeights>>,
    ) -> Result<Self> {
        LstmWeights::of_cell(Cell::Lstm, false, input_size, hidden_size, direction, layers)
    }

    /// Weights of `cell` (with the GRU's `linear_before_reset`) from per-layer, per-direction
    /// parts; every size is checked against the others.
    pub fn of_cell(
        cell: Cell,
        linear_before_reset: bool,
        input_size: usize,
        hidden_size: usize,
        direction: Direction,
        layers: Vec<Vec<DirectionWeights>>,
    ) -> Result<Self> {
        let mut weights = LstmWeights {
            cell,
            linear_before_reset,
            input_size,
            hidden_size,
            proj_size: None,
            row_scales: None,
            direction,
            layers,
        };
        let first = weights
            .layers
            .first()
            .and_then(|l| l.first())
            .ok_or_else(|| Error::invalid("weights", "need at least one layer with one direction"))?;
        let has_bias = first.bias.is_some();
        let has_peephole = first.peephole.is_some();
        let proj = match &first.w_hr {
            Some(w) if hidden_size > 0 => Some(w.len() / hidden_size),
            _ => None,
        };
        weights.proj_size = proj;
        let config = weights.config(Layout::SeqMajor);
        config.validate()?;
        let (d, h, p) = (direction.num_directions(), hidden_size, config.output_size());
        let g = config.gates();
        for (l, layer) in weights.layers.iter().enumerate() {
            if layer.len() != d {
                return Err(Error::invalid(
                    format!("layer {l}"),
                    format!("has {} directions, expected {d}", layer.len()),
                ));
            }
            let inp = config.layer_input_size(l);
            for (k, dw) in layer.iter().enumerate() {
                let at = |what: &str| format!("layer {l} direction {k} {what}");
                check_len(&at("w_ih"), &[g * h, inp], dw.w_ih.len())?;
                check_len(&at("w_hh"), &[g * h, p], dw.w_hh.len())?;
                let present = |what: &str, is: bool, expected: bool| -> Result<()> {
                    if is != expected {
                        return Err(Error::invalid(
                            at(what),
                            if is {
                                "present while layer 0 direction 0 has none"
                            } else {
                                "missing while layer 0 direction 0 has one"
                            },
                        ));
                    }
                    Ok(())
                };
                present("bias", dw.bias.is_some(), has_bias)?;
                present("peephole", dw.peephole.is_some(), has_peephole)?;
                present("w_hr", dw.w_hr.is_some(), proj.is_some())?;
                if let Some((bi, bh)) = &dw.bias {
                    check_len(&at("b_ih"), &[g * h], bi.len())?;
                    check_len(&at("b_hh"), &[g * h], bh.len())?;
                }
                if let Some(pw) = &dw.peephole {
                    check_len(&at("peephole"), &[3 * h], pw.len())?;
                }
                if let Some(w) = &dw.w_hr {
                    check_len(&at("w_hr"), &[p, h], w.len())?;
                }
            }
        }
        Ok(weights)
    }

    /// Random weights, uniform in ±1/√H as `nn.LSTM` initialises them, from a fixed seed.
    pub fn random(config: &LstmConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let (g, h, p) = (config.gates(), config.hidden_size, config.output_size());
        let s = 1.0 / (h as f32).sqrt();
        // validate() checked that the sizes do not overflow; the host may still lack the memory.
        let mut vec = |n: usize| -> Result<Vec<f32>> {
            let mut v = Vec::new();
            v.try_reserve_exact(n).map_err(|_| Error::HostAllocation {
                what: "random weights".into(),
                bytes: n as u64 * 4,
            })?;
            v.extend((0..n).map(|_| rng.random_range(-s..=s)));
            Ok(v)
        };
        let mut layers = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let mut dirs = Vec::with_capacity(config.num_directions());
            for _ in 0..config.num_directions() {
                dirs.push(DirectionWeights {
                    w_ih: vec(g * h * config.layer_input_size(l))?,
                    w_hh: vec(g * h * p)?,
                    bias: if config.bias {
                        Some((vec(g * h)?, vec(g * h)?))
                    } else {
                        None
                    },
                    peephole: if config.peepholes { Some(vec(3 * h)?) } else { None },
                    w_hr: config.proj_size.map(|p| vec(p * h)).transpose()?,
                });
            }
            layers.push(dirs);
        }
        LstmWeights::of_cell(
            config.cell,
            config.linear_before_reset,
            config.input_size,
            h,
            config.direction,
            layers,
        )
    }

    /// The same weights read in another direction of the same count: ONNX and PyTorch files
    /// with one direction load as [`Direction::Forward`]; this turns them into
    /// [`Direction::Reverse`] (or back).
    pub fn with_direction(mut self, direction: Direction) -> Result<Self> {
        if direction.num_directions() != self.direction.num_directions() {
            return Err(Error::invalid(
                "direction",
                format!(
                    "{direction:?} needs {} direction(s) of weights, these have {}",
                    direction.num_directions(),
                    self.direction.num_directions()
                ),
            ));
        }
        self.direction = direction;
        Ok(self)
    }

    /// The weights as the engine holds them at `precision`: every value (W, R, W_hr and
    /// peepholes) rounded to it, and each pair of biases summed, rounded, and held as the input
    /// bias (the recurrent one zero), as the GPU stores their sum. The candidate's biases of a
    /// GRU with `linear_before_reset` are not summed (Rb_n sits inside the reset product): each
    /// is rounded where it is. At [`Precision::Int8`] each row of W, R and W_hr is quantized to
    /// its own scale and dequantized; peepholes and biases are summed but kept exact.
    pub fn rounded(&self, precision: Precision) -> LstmWeights {
        if precision == Precision::F32 {
            return self.clone();
        }
        let h = self.hidden_size;
        let separate = self.separate_bias_rows();
        let round = |v: &[f32]| -> Vec<f32> { v.iter().map(|&x| precision.round(x)).collect() };
        // W, R (`rows` rows each) and W_hr: int8 quantizes each row to its own scale, but for
        // rows that came quantized (`own`), which stay as they are.
        let rows = self.cell.gates() * h;
        let matrix = |v: &[f32], rows: usize, own: Option<&Vec<Option<f32>>>| -> Vec<f32> {
            match precision {
                Precision::Int8 => v
                    .chunks((v.len() / rows.max(1)).max(1))
                    .enumerate()
                    .flat_map(|(r, row)| match own.and_then(|o| o[r]) {
                        Some(_) => row.to_vec(),
                        None => crate::config::int8_row(row),
                    })
                    .collect(),
                _ => round(v),
            }
        };
        let own = |l: usize, k: usize| self.row_scales.as_ref().map(|s| &s[l][k]);
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(l, dirs)| {
                dirs.iter()
                    .enumerate()
                    .map(|(k, dw)| DirectionWeights {
                        w_ih: matrix(&dw.w_ih, rows, own(l, k).map(|o| &o.w_ih)),
                        w_hh: matrix(&dw.w_hh, rows, own(l, k).map(|o| &o.w_hh)),
                        bias: dw.bias.as_ref().map(|(bi, bh)| {
                            let sum: Vec<f32> = bi
                                .iter()
                                .zip(bh)
                                .enumerate()
                                .map(|(row, (a, b))| if separate.contains(&(row / h)) { *a } else { a + b })
                                .collect();
                            let rest: Vec<f32> = bh
                                .iter()
                                .enumerate()
                                .map(|(row, b)| if separate.contains(&(row / h)) { *b } else { 0.0 })
                                .collect();
                            (round(&sum), round(&rest))
                        }),
                        peephole: dw.peephole.as_deref().map(round),
                        w_hr: dw
                            .w_hr
                            .as_deref()
                            .map(|w| matrix(w, self.proj_size.unwrap_or(h), None)),
                    })
                    .collect()
            })
            .collect();
        LstmWeights {
            layers,
            ..self.clone()
        }
    }

    /// The same weights, noting rows that came quantized (`[L][D]`, each `[G·H]`).
    pub(crate) fn with_row_scales(mut self, scales: Vec<Vec<RowScales>>) -> Self {
        debug_assert!(
            scales.len() == self.layers.len()
                && scales.iter().zip(&self.layers).all(|(s, l)| s.len() == l.len())
        );
        self.row_scales = scales
            .iter()
            .flatten()
            .any(|s| s.w_ih.iter().chain(&s.w_hh).any(Option::is_some))
            .then_some(scales);
        self
    }

    /// These weights with every value of W and R replaced by its row's own int8 scale (NaN for
    /// a row without one, and in W_hr), so that the packing of the values, applied to them, puts
    /// each value's scale where the value goes; `None` when no row came quantized.
    pub(crate) fn own_scales_as_weights(&self) -> Option<LstmWeights> {
        let scales = self.row_scales.as_ref()?;
        let fill = |v: &[f32], own: &[Option<f32>]| -> Vec<f32> {
            let width = v.len() / own.len().max(1);
            own.iter()
                .flat_map(|s| std::iter::repeat_n(s.unwrap_or(f32::NAN), width))
                .collect()
        };
        let layers = self
            .layers
            .iter()
            .zip(scales)
            .map(|(dirs, own)| {
                dirs.iter()
                    .zip(own)
                    .map(|(dw, own)| DirectionWeights {
                        w_ih: fill(&dw.w_ih, &own.w_ih),
                        w_hh: fill(&dw.w_hh, &own.w_hh),
                        w_hr: dw.w_hr.as_ref().map(|w| vec![f32::NAN; w.len()]),
                        ..dw.clone()
                    })
                    .collect()
            })
            .collect();
        Some(LstmWeights {
            layers,
            ..self.clone()
        })
    }

    /// The gate blocks whose two biases the cell cannot sum: the GRU's candidate with
    /// `linear_before_reset`.
    pub(crate) fn separate_bias_rows(&self) -> &'static [usize] {
        if self.cell == Cell::Gru && self.linear_before_reset {
            &[2]
        } else {
            &[]
        }
    }

    pub fn cell(&self) -> Cell {
        self.cell
    }

    /// The GRU's `linear_before_reset` (false for other cells).
    pub fn linear_before_reset(&self) -> bool {
        self.linear_before_reset
    }

    /// The same GRU weights read with another `linear_before_reset` (ONNX-convention files,
    /// which do not say). Refused for other cells.
    pub fn with_linear_before_reset(mut self, linear_before_reset: bool) -> Result<Self> {
        if linear_before_reset && self.cell != Cell::Gru {
            return Err(Error::invalid(
                "linear_before_reset",
                format!("is a GRU option; these are {} weights", self.cell.onnx_op()),
            ));
        }
        self.linear_before_reset = linear_before_reset;
        Ok(self)
    }

    pub fn input_size(&self) -> usize {
        self.input_size
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    pub fn has_bias(&self) -> bool {
        self.layers[0][0].bias.is_some()
    }

    pub fn has_peepholes(&self) -> bool {
        self.layers[0][0].peephole.is_some()
    }

    /// P, with projection.
    pub fn proj_size(&self) -> Option<usize> {
        self.proj_size
    }

    /// `[L][D]` per-direction weights.
    pub fn layers(&self) -> &[Vec<DirectionWeights>] {
        &self.layers
    }

    /// The configuration these weights define, with the given sequence layout and the default
    /// gate options (no clip, no input_forget, standard activations).
    pub fn config(&self, layout: Layout) -> LstmConfig {
        let first = self.layers.first().and_then(|l| l.first());
        LstmConfig {
            cell: self.cell,
            linear_before_reset: self.linear_before_reset,
            input_size: self.input_size,
            hidden_size: self.hidden_size,
            num_layers: self.layers.len(),
            direction: self.direction,
            bias: first.is_some_and(|d| d.bias.is_some()),
            layout,
            proj_size: self.proj_size,
            peepholes: first.is_some_and(|d| d.peephole.is_some()),
            ..LstmConfig::default()
        }
    }

    /// Refuse a config whose sizes or weight-borne options (bias, peepholes, projection,
    /// direction) differ from what the weights define. Layout and gate options are free.
    pub fn check_config(&self, config: &LstmConfig) -> Result<()> {
        let own = self.config(config.layout);
        if (own.cell, own.linear_before_reset) != (config.cell, config.linear_before_reset) {
            let show = |c: &LstmConfig| match c.cell {
                Cell::Gru => format!("a GRU (linear_before_reset {})", u8::from(c.linear_before_reset)),
                cell => cell.indefinite().to_string(),
            };
            return Err(Error::invalid(
                "config",
                format!(
                    "does not match the weights: the config is for {} cell, the weights are {}'s",
                    show(config),
                    show(&own)
                ),
            ));
        }
        let mine = (
            own.input_size,
            own.hidden_size,
            own.num_layers,
            own.direction,
            own.bias,
            own.proj_size,
            own.peepholes,
        );
        let theirs = (
            config.input_size,
            config.hidden_size,
            config.num_layers,
            config.direction,
            config.bias,
            config.proj_size,
            config.peepholes,
        );
        if mine != theirs {
            return Err(Error::invalid(
                "config",
                format!(
                    "does not match the weights: (input, hidden, layers, direction, bias, proj_size, peepholes) \
                     is {theirs:?} in the config, {mine:?} in the weights"
                ),
            ));
        }
        config.validate()
    }
}

fn check_len(what: &str, shape: &[usize], len: usize) -> Result<()> {
    let expected = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if expected != Some(len) {
        return Err(Error::invalid(
            what,
            format!(
                "holds {len} values, but shape {shape:?} needs {}",
                shape.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("·")
            ),
        ));
    }
    Ok(())
}

/// Engine-order row blocks into a file's order (`blocks`: [`Convention::block_of_gate`]).
pub(crate) fn to_file_order(src: &[f32], blocks: &[usize]) -> Vec<f32> {
    let block = src.len() / blocks.len();
    let mut out = vec![0.0; src.len()];
    for (g, &file) in blocks.iter().enumerate() {
        out[file * block..][..block].copy_from_slice(&src[g * block..][..block]);
    }
    out
}

/// A file's row blocks into the engine's order (`blocks`: [`Convention::block_of_gate`]).
pub(crate) fn from_file_order<T: Copy>(src: &[T], blocks: &[usize]) -> Vec<T> {
    let block = src.len() / blocks.len();
    blocks
        .iter()
        .flat_map(|&file| &src[file * block..][..block])
        .copied()
        .collect()
}

/// The directions of one ONNX LSTM, GRU or RNN layer in the engine's order, from the operator's
/// W `[D, G·H, I]`, R `[D, G·H, H]`, B `[D, 2G·H]` and (LSTM) P `[D, 3H]` (peepholes i, o, f),
/// whose lengths the caller has checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn onnx_directions(
    cell: Cell,
    w: &[f32],
    r: &[f32],
    b: Option<&[f32]>,
    peep: Option<&[f32]>,
    d: usize,
    h: usize,
    input: usize,
) -> Vec<DirectionWeights> {
    let blocks = Convention::Onnx.block_of_gate(cell);
    let g = cell.gates();
    (0..d)
        .map(|k| {
            let w_k = &w[k * g * h * input..][..g * h * input];
            let r_k = &r[k * g * h * h..][..g * h * h];
            DirectionWeights {
                w_ih: from_file_order(w_k, blocks),
                w_hh: from_file_order(r_k, blocks),
                bias: b.map(|b| {
                    let b_k = &b[k * 2 * g * h..][..2 * g * h];
                    (
                        from_file_order(&b_k[..g * h], blocks),
                        from_file_order(&b_k[g * h..], blocks),
                    )
                }),
                // ONNX i, o, f -> engine i, f, o
                peephole: peep.map(|p| {
                    let p_k = &p[k * 3 * h..][..3 * h];
                    [0, 2, 1]
                        .iter()
                        .flat_map(|&block| &p_k[block * h..][..h])
                        .copied()
                        .collect()
                }),
                w_hr: None,
            }
        })
        .collect()
}
