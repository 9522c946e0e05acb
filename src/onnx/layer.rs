//! LSTM nodes into layers: each node's weights computed at load time (initializers, constants,
//! folded chains), checked against its attributes, and several nodes stacked.

use std::sync::Arc;

use super::quantized::Quantized;
use super::*;
use crate::convention::Convention;
use crate::weights::{from_file_order, RowScales};

impl OnnxModel {
    /// One node as a one-layer LSTM.
    pub(super) fn layer(&self, f: &Found<'_>) -> Result<Layer> {
        self.layer_with(f, true)
    }

    /// One node's configuration and input size, its weights resolved and checked (shapes and
    /// element types) but not converted: what `lstm_nodes` lists, at a cost that does not grow
    /// with the weights for every node that shares them.
    pub(super) fn layer_checked(&self, f: &Found<'_>) -> Result<Layer> {
        self.layer_with(f, false)
    }

    /// One node as a one-layer LSTM; its weights in the engine's layout when `convert`.
    fn layer_with(&self, f: &Found<'_>, convert: bool) -> Result<Layer> {
        let label = node_name(f.node);
        let a = self.attributes(f)?;
        let (cell, op) = (a.cell, op_of(f.node));
        let g = cell.gates();
        let d = a.direction.num_directions();
        let weight = |i: usize, role: &str| -> Result<Option<Arc<Value>>> {
            match f.node.input.get(i).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(name) => self
                    .fold(format!("{role} of {op} node '{label}'"), &f.chain, name)
                    .map(Some),
            }
        };
        let size_err = |message: String| {
            self.ctx
                .error(OnnxProblem::Size, format!("{op} node '{label}': {message}"))
        };
        // A quantized node's rows' own int8 scales (W's, R's), ONNX's gate order.
        let (w, r, own_scales) = if quantized(f.node) {
            let (w, w_scales) = self.dequantized(f, Quantized::W, d)?;
            let (r, r_scales) = self.dequantized(f, Quantized::R, d)?;
            (w, r, Some((w_scales, r_scales)))
        } else {
            (
                weight(1, "W")?.ok_or_else(|| size_err("has no W".into()))?,
                weight(2, "R")?.ok_or_else(|| size_err("has no R".into()))?,
                None,
            )
        };
        let h = match (a.hidden_size, r.shape.as_slice()) {
            (Some(h), _) => h,
            (None, [_, _, h]) => *h,
            _ => {
                return Err(size_err(format!(
                    "R has shape {:?}, expected [D, {g}H, H]",
                    r.shape
                )))
            }
        };
        // R holds D·4H·H elements, at most MAX_ELEMENTS: a larger H cannot fit, and the multiples
        // of H below stay far from overflow.
        if h > super::value::MAX_ELEMENTS {
            return Err(size_err(format!(
                "hidden_size {h} is larger than any R the loader reads ({} elements at most)",
                super::value::MAX_ELEMENTS
            )));
        }
        if r.shape != [d, g * h, h] {
            return Err(size_err(format!(
                "R has shape {:?}; direction and hidden_size {h} need [{d}, {}, {h}]",
                r.shape,
                g * h
            )));
        }
        let input = match w.shape.as_slice() {
            [wd, rows, i] if *wd == d && *rows == g * h && *i > 0 => *i,
            _ => {
                return Err(size_err(format!(
                    "W has shape {:?}; direction and hidden_size {h} need [{d}, {}, I]",
                    w.shape,
                    g * h
                )))
            }
        };
        let b = weight(3, "B")?;
        if let Some(b) = &b {
            if b.shape != [d, 2 * g * h] {
                return Err(size_err(format!(
                    "B has shape {:?}, expected [{d}, {}]",
                    b.shape,
                    2 * g * h
                )));
            }
        }
        // Peepholes are the LSTM's input 7; GRU and RNN have no input past initial_h.
        let p = if cell == Cell::Lstm { weight(7, "P")? } else { None };
        if let Some(p) = &p {
            if p.shape != [d, 3 * h] {
                return Err(size_err(format!(
                    "P has shape {:?}, expected [{d}, {}]",
                    p.shape,
                    3 * h
                )));
            }
        }
        for (v, what) in [
            (Some(&w), "W"),
            (Some(&r), "R"),
            (b.as_ref(), "B"),
            (p.as_ref(), "P"),
        ] {
            if let Some(v) = v {
                v.check_floats(&self.ctx, &format!("{what} of {op} node '{label}'"))?;
            }
        }
        let (bias, peepholes) = (b.is_some(), p.is_some());
        let directions = if convert {
            let floats =
                |v: &Value, what: &str| v.floats(&self.ctx, &format!("{what} of {op} node '{label}'"));
            let (w, r) = (floats(&w, "W")?, floats(&r, "R")?);
            let b = b.map(|b| floats(&b, "B")).transpose()?;
            let p = p.map(|p| floats(&p, "P")).transpose()?;
            onnx_directions(cell, &w, &r, b.as_deref(), p.as_deref(), d, h, input)
        } else {
            Vec::new()
        };
        // In the engine's gate order, like W's and R's rows; every row of a float node is None.
        let blocks = Convention::Onnx.block_of_gate(cell);
        let row_scales = (0..d)
            .map(|k| {
                let of = |s: &[Option<f32>]| from_file_order(&s[k * g * h..][..g * h], blocks);
                match &own_scales {
                    Some((w, r)) => RowScales {
                        w_ih: of(w),
                        w_hh: of(r),
                    },
                    None => RowScales {
                        w_ih: vec![None; g * h],
                        w_hh: vec![None; g * h],
                    },
                }
            })
            .collect();
        let mut config = LstmConfig {
            cell,
            linear_before_reset: a.linear_before_reset,
            input_size: input,
            hidden_size: h,
            direction: a.direction,
            bias,
            layout: a.layout,
            peepholes,
            ..LstmConfig::default()
        };
        self.apply_options(&a, &mut config)?;
        Ok(Layer {
            name: label,
            config,
            input_size: input,
            directions,
            row_scales,
        })
    }

    /// The LSTM of `nodes` (names or qualified names), stacked as layers in that order; with no
    /// names, the model's only LSTM node.
    pub fn load(&self, nodes: &[&str]) -> Result<OnnxLstm> {
        let found = self.found();
        let select = |message: String| self.ctx.error(OnnxProblem::Selection, message);
        let listing = || {
            let names = found.iter().map(|f| {
                let mut p = f.path.clone();
                p.push(node_name(f.node));
                p.join("/")
            });
            crate::error::cut_list(names, 20)
        };
        // Operators that look recurrent but are none the engine reads, named rather than left out.
        let others = || match self.other_recurrent_nodes() {
            o if o.is_empty() => String::new(),
            o => format!(
                " (it has {}, which the engine does not implement)",
                crate::error::cut_list(o.into_iter(), 10)
            ),
        };
        let chosen: Vec<&Found<'_>> = if nodes.is_empty() {
            match found.len() {
                0 => {
                    return Err(select(format!(
                        "the model has no {} node{}",
                        recurrent_ops(&found),
                        others()
                    )))
                }
                1 => vec![&found[0]],
                n => {
                    return Err(select(format!(
                        "the model has {n} {} nodes; choose with --node (names or path/name): {}",
                        recurrent_ops(&found),
                        listing()
                    )))
                }
            }
        } else {
            nodes
                .iter()
                .map(|want| {
                    let matches: Vec<&Found<'_>> = found
                        .iter()
                        .filter(|f| {
                            let name = node_name(f.node);
                            let mut q = f.path.clone();
                            q.push(name.clone());
                            name == *want || q.join("/") == *want
                        })
                        .collect();
                    match matches.len() {
                        1 => Ok(matches[0]),
                        0 if found.is_empty() => Err(select(format!(
                            "no {} node is called '{want}': the model has none{}",
                            recurrent_ops(&found),
                            others()
                        ))),
                        0 => Err(select(format!(
                            "no {} node is called '{want}'; the model has: {}{}",
                            recurrent_ops(&found),
                            listing(),
                            others()
                        ))),
                        _ => Err(select(format!(
                            "'{want}' names {} recurrent nodes; give one as path/name: {}",
                            matches.len(),
                            listing()
                        ))),
                    }
                })
                .collect::<Result<_>>()?
        };
        let layers: Vec<Layer> = chosen.iter().map(|f| self.layer(f)).collect::<Result<_>>()?;
        let first = &layers[0];
        for (k, l) in layers.iter().enumerate().skip(1) {
            let below = &layers[k - 1];
            let want = below.config.num_directions() * below.config.hidden_size;
            if l.input_size != want {
                return Err(select(format!(
                    "layer {k} ('{}') takes inputs of {} values, but layer {} ('{}') gives D·H = {want}",
                    l.name,
                    l.input_size,
                    k - 1,
                    below.name
                )));
            }
            let same = |c: &LstmConfig| {
                (
                    c.cell,
                    c.linear_before_reset,
                    c.hidden_size,
                    c.direction,
                    c.clip.map(f32::to_bits),
                    c.input_forget,
                    c.layout,
                    c.bias,
                    c.peepholes,
                    c.activations.clone(),
                )
            };
            if same(&l.config) != same(&first.config) {
                return Err(select(format!(
                    "layer {k} ('{}') differs from layer 0 ('{}') in cell, linear_before_reset, hidden_size, direction, \
                     clip, input_forget, layout, biases, peepholes or activations; stacked layers must share them",
                    l.name, first.name
                )));
            }
        }
        let mut config = first.config.clone();
        config.num_layers = layers.len();
        let direction = config.direction;
        let stored = if direction == Direction::Reverse {
            Direction::Forward
        } else {
            direction
        };
        let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
        let row_scales = layers.iter().map(|l| l.row_scales.clone()).collect();
        let weights = LstmWeights::of_cell(
            config.cell,
            config.linear_before_reset,
            first.input_size,
            config.hidden_size,
            stored,
            layers.into_iter().map(|l| l.directions).collect(),
        )
        .map(|w| w.with_row_scales(row_scales))
        .and_then(|w| w.with_direction(direction))
        .map_err(|e| self.ctx.error(OnnxProblem::Size, e.to_string()))?;
        let (initial, seq_lens) = self.runtime_constants(&chosen, &config)?;
        Ok(OnnxLstm {
            config,
            weights,
            nodes: names,
            initial,
            seq_lens,
        })
    }

    /// initial_h, initial_c and sequence_lens where the nodes hold them as constants.
    pub(super) fn runtime_constants(
        &self,
        chosen: &[&Found<'_>],
        config: &LstmConfig,
    ) -> Result<(Option<State>, Option<Vec<usize>>)> {
        let constant = |f: &Found<'_>, i: usize| -> Result<Option<Arc<Value>>> {
            let Some(name) = f.node.input.get(i).filter(|n| !n.is_empty()) else {
                return Ok(None);
            };
            match self.fold(
                format!("input {i} of {} node '{}'", op_of(f.node), node_name(f.node)),
                &f.chain,
                name,
            ) {
                Ok(v) => Ok(Some(v)),
                Err(Error::Onnx {
                    problem: OnnxProblem::NotConstant | OnnxProblem::NotFoldable,
                    ..
                }) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let (d, h) = (config.num_directions(), config.hidden_size);
        let mut states: [Option<Vec<f32>>; 2] = [None, None];
        let mut batch = None;
        // initial_c (input 6) is the LSTM's alone.
        let slots: &[(usize, usize)] = if config.cell.has_cell_state() {
            &[(0, 5), (1, 6)]
        } else {
            &[(0, 5)]
        };
        for &(slot, input) in slots {
            let values: Vec<Option<Arc<Value>>> =
                chosen.iter().map(|f| constant(f, input)).collect::<Result<_>>()?;
            if values.iter().all(Option::is_none) {
                continue;
            }
            let mut all = Vec::new();
            for (k, v) in values.iter().enumerate() {
                let v = match v {
                    Some(v) => v,
                    None => {
                        return Err(self.ctx.error(
                            OnnxProblem::Unsupported,
                            format!(
                                "the {} of layer {k} is not a constant while another layer's is; supply it at run time for every layer",
                                ["initial_h", "initial_c"][slot]
                            ),
                        ))
                    }
                };
                let shape: Vec<usize> = match config.layout {
                    Layout::SeqMajor => v.shape.clone(),
                    // [B, D, H] -> [D, B, H]
                    Layout::BatchMajor => match v.shape.as_slice() {
                        [b, dd, hh] => vec![*dd, *b, *hh],
                        other => other.to_vec(),
                    },
                };
                let b = match shape.as_slice() {
                    [dd, b, hh] if *dd == d && *hh == h && *b > 0 => *b,
                    _ => {
                        return Err(self.ctx.error(
                            OnnxProblem::Size,
                            format!(
                                "constant {} of shape {:?} for D = {d}, H = {h}",
                                ["initial_h", "initial_c"][slot],
                                v.shape
                            ),
                        ))
                    }
                };
                if batch.is_some_and(|x| x != b) {
                    return Err(self.ctx.error(
                        OnnxProblem::Size,
                        "constant initial states disagree on the batch size",
                    ));
                }
                batch = Some(b);
                let data = v.floats(&self.ctx, ["initial_h", "initial_c"][slot])?;
                let t = Tensor::new(v.shape.clone(), data)?;
                let t = crate::convention::Convention::Onnx.state_from_file(config.layout, t)?;
                all.extend_from_slice(t.data());
            }
            states[slot] = Some(all);
        }
        let initial = match (states, batch) {
            ([None, None], _) | (_, None) => None,
            ([hs, cs], Some(b)) => {
                let slots = config.num_layers * d;
                let c = config.cell_state_size();
                Some(State {
                    h: Tensor::new(vec![slots, b, h], hs.unwrap_or_else(|| vec![0.0; slots * b * h]))?,
                    c: Tensor::new(vec![slots, b, c], cs.unwrap_or_else(|| vec![0.0; slots * b * c]))?,
                })
            }
        };
        let lens: Vec<Option<Arc<Value>>> = chosen.iter().map(|f| constant(f, 4)).collect::<Result<_>>()?;
        let seq_lens = match lens.first() {
            Some(Some(v)) => {
                let l = v.ints(&self.ctx, "sequence_lens")?;
                if lens.iter().any(|x| x.as_ref().map(|x| &x.data) != Some(&v.data)) {
                    return Err(self.ctx.error(
                        OnnxProblem::Unsupported,
                        "the layers' sequence_lens differ; stacked layers share one",
                    ));
                }
                let lengths: Vec<usize> = l
                    .iter()
                    .map(|&x| {
                        usize::try_from(x).map_err(|_| {
                            self.ctx.error(
                                OnnxProblem::Size,
                                format!("sequence_lens holds the negative length {x}"),
                            )
                        })
                    })
                    .collect::<Result<_>>()?;
                Some(lengths)
            }
            _ => None,
        };
        Ok((initial, seq_lens))
    }
}

/// The operators among the found nodes, for messages: "LSTM" in a model of LSTM nodes.
fn recurrent_ops(found: &[Found<'_>]) -> &'static str {
    if found.iter().all(|f| cell_of(f.node) == Some(Cell::Lstm)) {
        "LSTM"
    } else {
        "LSTM, GRU or RNN"
    }
}

pub(super) struct Layer {
    pub(super) name: String,
    pub(super) config: LstmConfig,
    pub(super) input_size: usize,
    pub(super) directions: Vec<crate::weights::DirectionWeights>,
    /// The int8 scales of rows that came quantized, per direction.
    pub(super) row_scales: Vec<RowScales>,
}
