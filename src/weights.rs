//! `LstmWeights`: the weights of every layer and direction in the engine's gate order (i, f, g, o),
//! loaded from and saved to `.safetensors` in either [`Convention`].

use std::collections::BTreeSet;

use rand::{rngs::StdRng, Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};

use crate::config::{Direction, Layout, LstmConfig, Precision};
use crate::convention::{Convention, ONNX_BLOCK_OF_GATE};
use crate::error::{Dim, Error, Result};
use crate::tensor::Tensor;

/// The largest `.safetensors` header (its JSON table of tensors) we parse: thousands of tensors
/// fit in far less, and a header of millions of empty tensors is refused before it is parsed.
pub const MAX_SAFETENSORS_HEADER: u64 = 4 << 20;

/// Weights of one direction of one layer. Rows are four blocks of H, in gate order i, f, g, o.
/// P below is the projection size, or H without projection.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectionWeights {
    /// `[4H, in]`: input weights (in = I for layer 0, D·P after).
    pub w_ih: Vec<f32>,
    /// `[4H, P]`: recurrent weights.
    pub w_hh: Vec<f32>,
    /// `([4H], [4H])`: input and recurrent biases, both added; `None` for a bias-free LSTM.
    pub bias: Option<(Vec<f32>, Vec<f32>)>,
    /// `[3H]`: peephole weights in the order i, f, o (ONNX stores i, o, f).
    pub peephole: Option<Vec<f32>>,
    /// `[P, H]`: projection of `o⊙h(c)` to the P values of h (PyTorch `weight_hr`).
    pub w_hr: Option<Vec<f32>>,
}

/// Weights of a stacked, optionally bidirectional LSTM.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmWeights {
    input_size: usize,
    hidden_size: usize,
    proj_size: Option<usize>,
    direction: Direction,
    /// `[L][D]`.
    layers: Vec<Vec<DirectionWeights>>,
}

impl LstmWeights {
    /// Weights from per-layer, per-direction parts; every size is checked against the others.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        direction: Direction,
        layers: Vec<Vec<DirectionWeights>>,
    ) -> Result<Self> {
        let mut weights = LstmWeights {
            input_size,
            hidden_size,
            proj_size: None,
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
                check_len(&at("w_ih"), &[4 * h, inp], dw.w_ih.len())?;
                check_len(&at("w_hh"), &[4 * h, p], dw.w_hh.len())?;
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
                    check_len(&at("b_ih"), &[4 * h], bi.len())?;
                    check_len(&at("b_hh"), &[4 * h], bh.len())?;
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
        let (h, p) = (config.hidden_size, config.output_size());
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
                    w_ih: vec(4 * h * config.layer_input_size(l))?,
                    w_hh: vec(4 * h * p)?,
                    bias: if config.bias {
                        Some((vec(4 * h)?, vec(4 * h)?))
                    } else {
                        None
                    },
                    peephole: if config.peepholes { Some(vec(3 * h)?) } else { None },
                    w_hr: config.proj_size.map(|p| vec(p * h)).transpose()?,
                });
            }
            layers.push(dirs);
        }
        LstmWeights::new(config.input_size, h, config.direction, layers)
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
    /// bias (the recurrent one zero), as the GPU stores their sum.
    pub fn rounded(&self, precision: Precision) -> LstmWeights {
        if precision == Precision::F32 {
            return self.clone();
        }
        let round = |v: &[f32]| -> Vec<f32> { v.iter().map(|&x| precision.round(x)).collect() };
        let layers = self
            .layers
            .iter()
            .map(|dirs| {
                dirs.iter()
                    .map(|dw| DirectionWeights {
                        w_ih: round(&dw.w_ih),
                        w_hh: round(&dw.w_hh),
                        bias: dw.bias.as_ref().map(|(bi, bh)| {
                            let sum: Vec<f32> = bi.iter().zip(bh).map(|(a, b)| a + b).collect();
                            (round(&sum), vec![0.0; bh.len()])
                        }),
                        peephole: dw.peephole.as_deref().map(round),
                        w_hr: dw.w_hr.as_deref().map(round),
                    })
                    .collect()
            })
            .collect();
        LstmWeights {
            layers,
            ..self.clone()
        }
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

    /// Parse `.safetensors` bytes; the convention is detected from the keys unless given. The
    /// header is at most [`MAX_SAFETENSORS_HEADER`] bytes.
    pub fn from_safetensors(bytes: &[u8], convention: Option<Convention>) -> Result<(Self, Convention)> {
        let format = |message: String| Error::format("<safetensors>", message);
        let header = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| format("not a valid .safetensors file: shorter than its header size".into()))?;
        if header > MAX_SAFETENSORS_HEADER {
            return Err(format(format!(
                "not a valid .safetensors file: a header of {header} bytes (at most {MAX_SAFETENSORS_HEADER})"
            )));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Format {
            path: "<safetensors>".into(),
            message: format!("not a valid .safetensors file: {e}"),
            source: Some(Box::new(e)),
        })?;
        let file = TensorFile::new(&st);
        let convention = match convention {
            Some(c) => c,
            None => file.detect()?,
        };
        let weights = match convention {
            Convention::PyTorch => file.pytorch()?,
            Convention::Onnx => file.onnx()?,
        };
        Ok((weights, convention))
    }

    /// Serialize to `.safetensors` bytes in the given convention (f32). ONNX holds one layer.
    pub fn to_safetensors(&self, convention: Convention) -> Result<Vec<u8>> {
        self.to_safetensors_prefixed(convention, "")
    }

    /// The key prefix of the LSTM in a `.safetensors` file of `convention` (`"lstm."` for a
    /// state_dict saved from a module holding the LSTM as `lstm`; empty when the keys are bare).
    pub fn key_prefix(bytes: &[u8], convention: Convention) -> Result<String> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Format {
            path: "<safetensors>".into(),
            message: format!("not a valid .safetensors file: {e}"),
            source: Some(Box::new(e)),
        })?;
        let file = TensorFile::new(&st);
        match convention {
            Convention::PyTorch => file.single_prefix("weight_ih_l0", false, "pytorch"),
            Convention::Onnx => file.single_prefix("W", true, "onnx"),
        }
    }

    /// [`LstmWeights::to_safetensors`] with every key behind `prefix`.
    pub fn to_safetensors_prefixed(&self, convention: Convention, prefix: &str) -> Result<Vec<u8>> {
        let (h, p) = (self.hidden_size, self.proj_size.unwrap_or(self.hidden_size));
        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        match convention {
            Convention::PyTorch => {
                if self.has_peepholes() {
                    return Err(Error::invalid("pytorch convention", "nn.LSTM has no peepholes"));
                }
                for (l, layer) in self.layers.iter().enumerate() {
                    for (d, dw) in layer.iter().enumerate() {
                        let sfx = if d == 1 { "_reverse" } else { "" };
                        let inp = dw.w_ih.len() / (4 * h);
                        tensors.push((format!("weight_ih_l{l}{sfx}"), vec![4 * h, inp], dw.w_ih.clone()));
                        tensors.push((format!("weight_hh_l{l}{sfx}"), vec![4 * h, p], dw.w_hh.clone()));
                        if let Some(w) = &dw.w_hr {
                            tensors.push((format!("weight_hr_l{l}{sfx}"), vec![p, h], w.clone()));
                        }
                        if let Some((bi, bh)) = &dw.bias {
                            tensors.push((format!("bias_ih_l{l}{sfx}"), vec![4 * h], bi.clone()));
                            tensors.push((format!("bias_hh_l{l}{sfx}"), vec![4 * h], bh.clone()));
                        }
                    }
                }
            }
            Convention::Onnx => {
                if self.proj_size.is_some() {
                    return Err(Error::invalid(
                        "onnx convention",
                        "the ONNX LSTM has no projection (proj_size)",
                    ));
                }
                if self.layers.len() != 1 {
                    return Err(Error::invalid(
                        "onnx convention",
                        format!(
                            "one ONNX LSTM node holds one layer, these weights have {}",
                            self.layers.len()
                        ),
                    ));
                }
                let layer = &self.layers[0];
                let d = layer.len();
                let (mut w, mut r, mut b, mut peep) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for dw in layer {
                    w.extend(scatter_to_onnx(&dw.w_ih));
                    r.extend(scatter_to_onnx(&dw.w_hh));
                    if let Some((bi, bh)) = &dw.bias {
                        b.extend(scatter_to_onnx(bi));
                        b.extend(scatter_to_onnx(bh));
                    }
                    if let Some(pw) = &dw.peephole {
                        // engine i, f, o -> ONNX i, o, f
                        for block in [0, 2, 1] {
                            peep.extend_from_slice(&pw[block * h..][..h]);
                        }
                    }
                }
                tensors.push(("W".into(), vec![d, 4 * h, self.input_size], w));
                tensors.push(("R".into(), vec![d, 4 * h, h], r));
                if self.has_bias() {
                    tensors.push(("B".into(), vec![d, 8 * h], b));
                }
                if self.has_peepholes() {
                    tensors.push(("P".into(), vec![d, 3 * h], peep));
                }
            }
        }
        serialize_f32(
            tensors
                .into_iter()
                .map(|(k, shape, v)| (format!("{prefix}{k}"), shape, v))
                .collect(),
        )
    }

    /// From named tensors, as a state_dict holds them: PyTorch's names (any prefix) or an ONNX
    /// LSTM's `W`, `R`, `B`, `P`, read as a `.safetensors` file of them would be
    /// ([`LstmWeights::from_safetensors`]).
    pub fn from_tensors(
        tensors: &[(String, Tensor)],
        convention: Option<Convention>,
    ) -> Result<(Self, Convention)> {
        let bytes = serialize_f32(
            tensors
                .iter()
                .map(|(name, t)| (name.clone(), t.shape().to_vec(), t.data().to_vec()))
                .collect(),
        )?;
        Self::from_safetensors(&bytes, convention).map_err(|e| e.in_file("<state_dict>"))
    }
}

/// `.safetensors` bytes of f32 tensors.
fn serialize_f32(tensors: Vec<(String, Vec<usize>, Vec<f32>)>) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(k, s, v)| (k, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(k, s, b)| {
            safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b).map(|v| (k.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid("safetensors", e.to_string()))?;
    safetensors::serialize(views, None).map_err(|e| Error::invalid("safetensors", e.to_string()))
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

/// Engine-order row blocks (i, f, g, o) into ONNX order (i, o, f, c).
fn scatter_to_onnx(src: &[f32]) -> Vec<f32> {
    let block = src.len() / 4;
    let mut out = vec![0.0; src.len()];
    for (g, &onnx) in ONNX_BLOCK_OF_GATE.iter().enumerate() {
        out[onnx * block..][..block].copy_from_slice(&src[g * block..][..block]);
    }
    out
}

/// ONNX-order row blocks (i, o, f, c) into engine order (i, f, g, o).
fn gather_from_onnx(src: &[f32]) -> Vec<f32> {
    let block = src.len() / 4;
    ONNX_BLOCK_OF_GATE
        .iter()
        .flat_map(|&onnx| &src[onnx * block..][..block])
        .copied()
        .collect()
}

/// The directions of one ONNX LSTM layer in the engine's order, from the operator's W `[D, 4H, I]`,
/// R `[D, 4H, H]`, B `[D, 8H]` and P `[D, 3H]` (gate blocks i, o, f, c; peepholes i, o, f),
/// whose lengths the caller has checked.
pub(crate) fn onnx_directions(
    w: &[f32],
    r: &[f32],
    b: Option<&[f32]>,
    peep: Option<&[f32]>,
    d: usize,
    h: usize,
    input: usize,
) -> Vec<DirectionWeights> {
    (0..d)
        .map(|k| {
            let w_k = &w[k * 4 * h * input..][..4 * h * input];
            let r_k = &r[k * 4 * h * h..][..4 * h * h];
            DirectionWeights {
                w_ih: gather_from_onnx(w_k),
                w_hh: gather_from_onnx(r_k),
                bias: b.map(|b| {
                    let b_k = &b[k * 8 * h..][..8 * h];
                    (gather_from_onnx(&b_k[..4 * h]), gather_from_onnx(&b_k[4 * h..]))
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

/// Keys of a safetensors file and typed access to them.
struct TensorFile<'a> {
    st: &'a SafeTensors<'a>,
    keys: BTreeSet<String>,
}

impl<'a> TensorFile<'a> {
    fn new(st: &'a SafeTensors<'a>) -> Self {
        let keys = st.names().into_iter().map(String::from).collect();
        TensorFile { st, keys }
    }

    /// Prefixes `p` such that `p + anchor` is a key, for a PyTorch anchor (`weight_ih_l0`).
    fn prefixes(&self, anchor: &str, separator_required: bool) -> Vec<String> {
        self.keys
            .iter()
            .filter_map(|k| k.strip_suffix(anchor))
            .filter(|p| !separator_required || p.is_empty() || p.ends_with('.') || p.ends_with('/'))
            .map(String::from)
            .collect()
    }

    fn detect(&self) -> Result<Convention> {
        let pt = !self.prefixes("weight_ih_l0", false).is_empty();
        let onnx = !self.prefixes("W", true).is_empty();
        match (pt, onnx) {
            (true, false) => Ok(Convention::PyTorch),
            (false, true) => Ok(Convention::Onnx),
            (true, true) => Err(Error::invalid(
                "weights",
                "keys of both conventions (weight_ih_l0 and W) are present; choose one with --convention",
            )),
            (false, false) => Err(Error::MissingTensor {
                key: "weight_ih_l0 or W".into(),
                convention: "any",
                hint: format!(
                    "; the file holds {}",
                    self.keys.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }

    fn single_prefix(
        &self,
        anchor: &str,
        separator_required: bool,
        convention: &'static str,
    ) -> Result<String> {
        let prefixes = self.prefixes(anchor, separator_required);
        match prefixes.len() {
            1 => Ok(prefixes.into_iter().next().unwrap()),
            0 => Err(Error::MissingTensor {
                key: anchor.into(),
                convention,
                hint: String::new(),
            }),
            _ => Err(Error::invalid(
                "weights",
                format!("several LSTMs in one file (key prefixes {prefixes:?}); keep one per file"),
            )),
        }
    }

    /// Read `key` as f32, checking its shape.
    fn get(&self, key: &str, expected: &[usize], convention: &'static str) -> Result<Vec<f32>> {
        let view = self.st.tensor(key).map_err(|_| Error::MissingTensor {
            key: key.into(),
            convention,
            hint: String::new(),
        })?;
        if view.shape() != expected {
            return Err(Error::shape(format!("tensor '{key}'"), expected, view.shape()));
        }
        to_f32(key, view.dtype(), view.data())
    }

    fn shape_of(&self, key: &str, convention: &'static str) -> Result<Vec<usize>> {
        self.st
            .tensor(key)
            .map(|v| v.shape().to_vec())
            .map_err(|_| Error::MissingTensor {
                key: key.into(),
                convention,
                hint: String::new(),
            })
    }

    /// Refuse keys under the LSTM's prefix that were not consumed: they would change the model.
    fn refuse_leftovers(
        &self,
        prefix: &str,
        used: &BTreeSet<String>,
        what: fn(&str) -> &'static str,
    ) -> Result<()> {
        match self
            .keys
            .iter()
            .find(|k| k.starts_with(prefix) && !used.contains(*k))
        {
            Some(k) => Err(Error::UnsupportedTensor {
                key: k.clone(),
                message: what(&k[prefix.len()..]).into(),
            }),
            None => Ok(()),
        }
    }

    fn pytorch(&self) -> Result<LstmWeights> {
        const C: &str = "pytorch";
        let prefix = self.single_prefix("weight_ih_l0", false, C)?;
        let key = |name: &str| format!("{prefix}{name}");
        let hh0 = self.shape_of(&key("weight_hh_l0"), C)?;
        let ih0 = self.shape_of(&key("weight_ih_l0"), C)?;
        // With projection (weight_hr_l0 [P, H]) weight_hh is [4H, P]; without, [4H, H].
        let hr0 = self
            .keys
            .contains(&key("weight_hr_l0"))
            .then(|| self.shape_of(&key("weight_hr_l0"), C))
            .transpose()?;
        let square = hr0.is_none();
        if hh0.len() != 2 || hh0[0] == 0 || hh0[0] % 4 != 0 || hh0[1] == 0 || (square && hh0[0] != 4 * hh0[1])
        {
            let width = if square { "H" } else { "P" };
            return Err(Error::shape_pattern(
                format!("tensor '{}'", key("weight_hh_l0")),
                vec![Dim::Named("4H"), Dim::Named(width)],
                &hh0,
            ));
        }
        let h = hh0[0] / 4;
        let p = hh0[1];
        if let Some(hr0) = &hr0 {
            if hr0 != &[p, h] {
                return Err(Error::shape(
                    format!("tensor '{}'", key("weight_hr_l0")),
                    &[p, h],
                    hr0,
                ));
            }
        }
        if ih0.len() != 2 || ih0[0] != 4 * h || ih0[1] == 0 {
            return Err(Error::shape_pattern(
                format!("tensor '{}'", key("weight_ih_l0")),
                vec![Dim::Known("4H", 4 * h), Dim::Named("I")],
                &ih0,
            ));
        }
        let input = ih0[1];
        let d = if self.keys.contains(&key("weight_ih_l0_reverse")) {
            2
        } else {
            1
        };
        let num_layers = (0..)
            .take_while(|l| self.keys.contains(&key(&format!("weight_ih_l{l}"))))
            .count();
        let bias = self.keys.contains(&key("bias_ih_l0")) || self.keys.contains(&key("bias_hh_l0"));
        let mut used = BTreeSet::new();
        let mut layers = Vec::with_capacity(num_layers);
        for l in 0..num_layers {
            let inp = if l == 0 { input } else { d * p };
            let mut dirs = Vec::with_capacity(d);
            for dir in 0..d {
                let sfx = if dir == 1 { "_reverse" } else { "" };
                let mut take = |name: String, shape: &[usize]| -> Result<Vec<f32>> {
                    let k = key(&name);
                    let v = self.get(&k, shape, C)?;
                    used.insert(k);
                    Ok(v)
                };
                let w_ih = take(format!("weight_ih_l{l}{sfx}"), &[4 * h, inp])?;
                let w_hh = take(format!("weight_hh_l{l}{sfx}"), &[4 * h, p])?;
                let w_hr = if square {
                    None
                } else {
                    Some(take(format!("weight_hr_l{l}{sfx}"), &[p, h])?)
                };
                let bias = if bias {
                    Some((
                        take(format!("bias_ih_l{l}{sfx}"), &[4 * h])?,
                        take(format!("bias_hh_l{l}{sfx}"), &[4 * h])?,
                    ))
                } else {
                    None
                };
                dirs.push(DirectionWeights {
                    w_ih,
                    w_hh,
                    bias,
                    peephole: None,
                    w_hr,
                });
            }
            layers.push(dirs);
        }
        self.refuse_leftovers(&prefix, &used, |_| {
            "not a key of nn.LSTM's state_dict for these layers and directions"
        })?;
        let direction = if d == 2 {
            Direction::Bidirectional
        } else {
            Direction::Forward
        };
        LstmWeights::new(input, h, direction, layers)
    }

    fn onnx(&self) -> Result<LstmWeights> {
        const C: &str = "onnx";
        let prefix = self.single_prefix("W", true, C)?;
        let key = |name: &str| format!("{prefix}{name}");
        let ws = self.shape_of(&key("W"), C)?;
        let rs = self.shape_of(&key("R"), C)?;
        if rs.len() != 3 || !(1..=2).contains(&rs[0]) || rs[1] == 0 || rs[1] != 4 * rs[2] {
            return Err(Error::shape_pattern(
                format!("tensor '{}' (D = 1 or 2)", key("R")),
                vec![Dim::Named("D"), Dim::Named("4H"), Dim::Named("H")],
                &rs,
            ));
        }
        let (d, h) = (rs[0], rs[2]);
        if ws.len() != 3 || ws[0] != d || ws[1] != 4 * h || ws[2] == 0 {
            return Err(Error::shape_pattern(
                format!("tensor '{}'", key("W")),
                vec![Dim::Known("D", d), Dim::Known("4H", 4 * h), Dim::Named("I")],
                &ws,
            ));
        }
        let input = ws[2];
        let w = self.get(&key("W"), &[d, 4 * h, input], C)?;
        let r = self.get(&key("R"), &[d, 4 * h, h], C)?;
        let mut used: BTreeSet<String> = [key("W"), key("R")].into();
        let b = if self.keys.contains(&key("B")) {
            used.insert(key("B"));
            Some(self.get(&key("B"), &[d, 8 * h], C)?)
        } else {
            None
        };
        let peep = if self.keys.contains(&key("P")) {
            used.insert(key("P"));
            Some(self.get(&key("P"), &[d, 3 * h], C)?)
        } else {
            None
        };
        self.refuse_leftovers(&prefix, &used, |_| {
            "not a weight input of the ONNX LSTM operator (W, R, B, P)"
        })?;
        let dirs = onnx_directions(&w, &r, b.as_deref(), peep.as_deref(), d, h, input);
        let direction = if d == 2 {
            Direction::Bidirectional
        } else {
            Direction::Forward
        };
        LstmWeights::new(input, h, direction, vec![dirs])
    }
}

/// Convert raw little-endian tensor bytes to f32.
fn to_f32(key: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f32>> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        data.chunks_exact(N).map(|c| f(c.try_into().unwrap())).collect()
    }
    Ok(match dtype {
        Dtype::F32 => each(data, f32::from_le_bytes),
        Dtype::F64 => each(data, |b| f64::from_le_bytes(b) as f32),
        Dtype::F16 => each(data, |b| half::f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => each(data, |b| half::bf16::from_le_bytes(b).to_f32()),
        other => {
            return Err(Error::Dtype {
                what: format!("tensor '{key}'"),
                expected: "F32, F16, BF16 or F64",
                got: format!("{other:?}"),
            })
        }
    })
}
