//! `.safetensors` reading and writing in either convention: keys, dtypes and shapes checked,
//! every tensor accounted for.

use super::*;

/// `.safetensors` bytes parsed, their header at most [`MAX_SAFETENSORS_HEADER`] bytes.
fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>> {
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
    SafeTensors::deserialize(bytes).map_err(|e| Error::Format {
        path: "<safetensors>".into(),
        message: format!("not a valid .safetensors file: {e}"),
        source: Some(Box::new(e)),
    })
}

impl LstmWeights {
    /// Parse `.safetensors` bytes; the convention is detected from the keys unless given. The
    /// header is at most [`MAX_SAFETENSORS_HEADER`] bytes.
    pub fn from_safetensors(bytes: &[u8], convention: Option<Convention>) -> Result<(Self, Convention)> {
        let st = parse(bytes)?;
        let file = TensorFile::new(&st, bytes);
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
        let st = parse(bytes)?;
        let file = TensorFile::new(&st, bytes);
        match convention {
            Convention::PyTorch => file.single_prefix("weight_ih_l0", false, "pytorch"),
            Convention::Onnx => file.single_prefix("W", true, "onnx"),
        }
    }

    /// [`LstmWeights::to_safetensors`] with every key behind `prefix`.
    pub fn to_safetensors_prefixed(&self, convention: Convention, prefix: &str) -> Result<Vec<u8>> {
        let (h, p) = (self.hidden_size, self.proj_size.unwrap_or(self.hidden_size));
        let g = self.cell.gates();
        let blocks = convention.block_of_gate(self.cell);
        let order = |v: &[f32]| to_file_order(v, blocks);
        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        match convention {
            Convention::PyTorch => {
                if self.has_peepholes() {
                    return Err(Error::invalid("pytorch convention", "nn.LSTM has no peepholes"));
                }
                if self.cell == Cell::Gru && !self.linear_before_reset {
                    return Err(Error::invalid(
                        "pytorch convention",
                        "nn.GRU computes linear_before_reset = 1; these weights are for 0",
                    ));
                }
                for (l, layer) in self.layers.iter().enumerate() {
                    for (d, dw) in layer.iter().enumerate() {
                        let sfx = if d == 1 { "_reverse" } else { "" };
                        let inp = dw.w_ih.len() / (g * h);
                        tensors.push((format!("weight_ih_l{l}{sfx}"), vec![g * h, inp], order(&dw.w_ih)));
                        tensors.push((format!("weight_hh_l{l}{sfx}"), vec![g * h, p], order(&dw.w_hh)));
                        if let Some(w) = &dw.w_hr {
                            tensors.push((format!("weight_hr_l{l}{sfx}"), vec![p, h], w.clone()));
                        }
                        if let Some((bi, bh)) = &dw.bias {
                            tensors.push((format!("bias_ih_l{l}{sfx}"), vec![g * h], order(bi)));
                            tensors.push((format!("bias_hh_l{l}{sfx}"), vec![g * h], order(bh)));
                        }
                    }
                }
            }
            Convention::Onnx => {
                if self.proj_size.is_some() {
                    return Err(Error::invalid(
                        "onnx convention",
                        "the ONNX operators have no projection (proj_size)",
                    ));
                }
                if self.layers.len() != 1 {
                    return Err(Error::invalid(
                        "onnx convention",
                        format!(
                            "one ONNX node holds one layer, these weights have {}",
                            self.layers.len()
                        ),
                    ));
                }
                let layer = &self.layers[0];
                let d = layer.len();
                let (mut w, mut r, mut b, mut peep) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for dw in layer {
                    w.extend(order(&dw.w_ih));
                    r.extend(order(&dw.w_hh));
                    if let Some((bi, bh)) = &dw.bias {
                        b.extend(order(bi));
                        b.extend(order(bh));
                    }
                    if let Some(pw) = &dw.peephole {
                        // engine i, f, o -> ONNX i, o, f
                        for block in [0, 2, 1] {
                            peep.extend_from_slice(&pw[block * h..][..h]);
                        }
                    }
                }
                tensors.push(("W".into(), vec![d, g * h, self.input_size], w));
                tensors.push(("R".into(), vec![d, g * h, h], r));
                if self.has_bias() {
                    tensors.push(("B".into(), vec![d, 2 * g * h], b));
                }
                if self.has_peepholes() {
                    tensors.push(("P".into(), vec![d, 3 * h], peep));
                }
            }
        }
        let metadata = (self.cell == Cell::Gru).then(|| {
            [(
                LINEAR_BEFORE_RESET_KEY.to_string(),
                u8::from(self.linear_before_reset).to_string(),
            )]
            .into()
        });
        serialize_f32(
            tensors
                .into_iter()
                .map(|(k, shape, v)| (format!("{prefix}{k}"), shape, v))
                .collect(),
            metadata,
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
            None,
        )?;
        Self::from_safetensors(&bytes, convention).map_err(|e| e.in_file("<state_dict>"))
    }
}

/// The metadata key under which a GRU's file records `linear_before_reset` ("0" or "1"), which
/// its tensors cannot tell.
pub const LINEAR_BEFORE_RESET_KEY: &str = "linear_before_reset";

/// `.safetensors` bytes of f32 tensors, with `metadata` in the header.
fn serialize_f32(
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
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
    safetensors::serialize(views, metadata).map_err(|e| Error::invalid("safetensors", e.to_string()))
}

/// Keys of a safetensors file and typed access to them.
struct TensorFile<'a> {
    st: &'a SafeTensors<'a>,
    bytes: &'a [u8],
    keys: BTreeSet<String>,
}

impl<'a> TensorFile<'a> {
    fn new(st: &'a SafeTensors<'a>, bytes: &'a [u8]) -> Self {
        let keys = st.names().into_iter().map(String::from).collect();
        TensorFile { st, bytes, keys }
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

    /// The GRU's `linear_before_reset` the file's metadata records (`None`: not recorded).
    fn linear_before_reset(&self) -> Result<Option<bool>> {
        let Ok((_, metadata)) = SafeTensors::read_metadata(self.bytes) else {
            return Ok(None);
        };
        match metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(LINEAR_BEFORE_RESET_KEY))
        {
            None => Ok(None),
            Some(v) if v == "0" => Ok(Some(false)),
            Some(v) if v == "1" => Ok(Some(true)),
            Some(v) => Err(Error::format(
                "<safetensors>",
                format!("metadata {LINEAR_BEFORE_RESET_KEY} is {v:?}, not 0 or 1"),
            )),
        }
    }

    fn pytorch(&self) -> Result<LstmWeights> {
        const C: &str = "pytorch";
        let prefix = self.single_prefix("weight_ih_l0", false, C)?;
        let key = |name: &str| format!("{prefix}{name}");
        let hh0 = self.shape_of(&key("weight_hh_l0"), C)?;
        let ih0 = self.shape_of(&key("weight_ih_l0"), C)?;
        // With projection (weight_hr_l0 [P, H], LSTM only) weight_hh is [4H, P]; without, [G·H, H]
        // with G = 4 (LSTM), 3 (GRU) or 1 (RNN).
        let hr0 = self
            .keys
            .contains(&key("weight_hr_l0"))
            .then(|| self.shape_of(&key("weight_hr_l0"), C))
            .transpose()?;
        let square = hr0.is_none();
        let cell = match hh0.as_slice() {
            [rows, cols] if *cols > 0 && !square && rows % 4 == 0 && *rows > 0 => Some(Cell::Lstm),
            [rows, cols] if *cols > 0 && square && rows % cols == 0 => cell_of_gates(rows / cols),
            _ => None,
        };
        let Some(cell) = cell else {
            let width = if square { "H" } else { "P" };
            return Err(Error::shape_pattern(
                format!(
                    "tensor '{}' (G = 4, 3 or 1 for an LSTM, GRU or RNN)",
                    key("weight_hh_l0")
                ),
                vec![Dim::Named("G·H"), Dim::Named(width)],
                &hh0,
            ));
        };
        let g = cell.gates();
        let blocks = Convention::PyTorch.block_of_gate(cell);
        let h = hh0[0] / g;
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
        if ih0.len() != 2 || ih0[0] != g * h || ih0[1] == 0 {
            return Err(Error::shape_pattern(
                format!("tensor '{}'", key("weight_ih_l0")),
                vec![Dim::Known("G·H", g * h), Dim::Named("I")],
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
                let w_ih = from_file_order(&take(format!("weight_ih_l{l}{sfx}"), &[g * h, inp])?, blocks);
                let w_hh = from_file_order(&take(format!("weight_hh_l{l}{sfx}"), &[g * h, p])?, blocks);
                let w_hr = if square {
                    None
                } else {
                    Some(take(format!("weight_hr_l{l}{sfx}"), &[p, h])?)
                };
                let bias = if bias {
                    Some((
                        from_file_order(&take(format!("bias_ih_l{l}{sfx}"), &[g * h])?, blocks),
                        from_file_order(&take(format!("bias_hh_l{l}{sfx}"), &[g * h])?, blocks),
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
            "not a key of the module's state_dict for these layers and directions"
        })?;
        let direction = if d == 2 {
            Direction::Bidirectional
        } else {
            Direction::Forward
        };
        // nn.GRU computes the candidate as ONNX's linear_before_reset = 1.
        LstmWeights::of_cell(cell, cell == Cell::Gru, input, h, direction, layers)
    }

    fn onnx(&self) -> Result<LstmWeights> {
        const C: &str = "onnx";
        let prefix = self.single_prefix("W", true, C)?;
        let key = |name: &str| format!("{prefix}{name}");
        let ws = self.shape_of(&key("W"), C)?;
        let rs = self.shape_of(&key("R"), C)?;
        let cell = match rs.as_slice() {
            [d, rows, h] if (1..=2).contains(d) && *h > 0 && rows % h == 0 => cell_of_gates(rows / h),
            _ => None,
        };
        let Some(cell) = cell else {
            return Err(Error::shape_pattern(
                format!(
                    "tensor '{}' (D = 1 or 2; G = 4, 3 or 1 for an LSTM, GRU or RNN)",
                    key("R")
                ),
                vec![Dim::Named("D"), Dim::Named("G·H"), Dim::Named("H")],
                &rs,
            ));
        };
        let g = cell.gates();
        let (d, h) = (rs[0], rs[2]);
        if ws.len() != 3 || ws[0] != d || ws[1] != g * h || ws[2] == 0 {
            return Err(Error::shape_pattern(
                format!("tensor '{}'", key("W")),
                vec![Dim::Known("D", d), Dim::Known("G·H", g * h), Dim::Named("I")],
                &ws,
            ));
        }
        let input = ws[2];
        let w = self.get(&key("W"), &[d, g * h, input], C)?;
        let r = self.get(&key("R"), &[d, g * h, h], C)?;
        let mut used: BTreeSet<String> = [key("W"), key("R")].into();
        let b = if self.keys.contains(&key("B")) {
            used.insert(key("B"));
            Some(self.get(&key("B"), &[d, 2 * g * h], C)?)
        } else {
            None
        };
        let peep = if cell == Cell::Lstm && self.keys.contains(&key("P")) {
            used.insert(key("P"));
            Some(self.get(&key("P"), &[d, 3 * h], C)?)
        } else {
            None
        };
        self.refuse_leftovers(&prefix, &used, |_| {
            "not a weight input of the ONNX operator (W, R, B, and P for an LSTM)"
        })?;
        let dirs = onnx_directions(cell, &w, &r, b.as_deref(), peep.as_deref(), d, h, input);
        let direction = if d == 2 {
            Direction::Bidirectional
        } else {
            Direction::Forward
        };
        let linear_before_reset = cell == Cell::Gru && self.linear_before_reset()?.unwrap_or(false);
        LstmWeights::of_cell(cell, linear_before_reset, input, h, direction, vec![dirs])
    }
}

/// The cell with `gates` gates per unit.
fn cell_of_gates(gates: usize) -> Option<Cell> {
    Cell::ALL.into_iter().find(|c| c.gates() == gates)
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
