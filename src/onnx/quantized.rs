//! onnxruntime's `DynamicQuantizeLSTM` (domain `com.microsoft`): an LSTM whose W `[D, I, 4H]` and
//! R `[D, H, 4H]` (transposed against LSTM's) are int8 or uint8, each with a scale and a zero
//! point per direction (`[D]`) or per direction and output channel (`[D, 4H]`): inputs 8 and 9
//! for W, 10 and 11 for R; its other inputs and attributes are LSTM's. The loader dequantizes
//! the weights, (q − zero point) · scale, into LSTM's `[D, 4H, I]` and `[D, 4H, H]`, and the
//! engines compute with them in f32 (onnxruntime's kernel also quantizes X and h to uint8 at
//! every step; see docs/onnx.md).

use std::sync::Arc;

use super::value::{type_name, Data};
use super::*;

/// W or R of a quantized node: the input, its scale's and its zero point's.
#[derive(Clone, Copy)]
pub(super) enum Quantized {
    W,
    R,
}

impl Quantized {
    /// (name, weights, scale, zero point) inputs.
    fn inputs(self) -> (&'static str, usize, usize, usize) {
        match self {
            Quantized::W => ("W", 1, 8, 9),
            Quantized::R => ("R", 2, 10, 11),
        }
    }
}

/// The granularity of scales of shape `shape` for `d` directions: per direction or per output
/// channel (`n` of them), or `None` for any other shape.
fn per_channel(shape: &[usize], d: usize, n: usize) -> Option<bool> {
    match shape {
        [dd] if *dd == d => Some(false),
        [dd, nn] if *dd == d && *nn == n => Some(true),
        _ => None,
    }
}

impl OnnxModel {
    /// W or R of a quantized node for `d` directions, dequantized into LSTM's layout (f64, as
    /// exactly as (q − zero point) · scale gives it; converted to f32 once, like every weight),
    /// with each output row's scale (`[D, 4H]`, ONNX's gate order) where every q − zero point of
    /// the row fits in int8, so int8 storage keeps the row exactly (`None` elsewhere).
    pub(super) fn dequantized(
        &self,
        f: &Found<'_>,
        which: Quantized,
        d: usize,
    ) -> Result<(Arc<Value>, Vec<Option<f32>>)> {
        let (role, input, scale_at, zero_at) = which.inputs();
        let label = node_name(f.node);
        let what = |part: &str| format!("{part} of {QUANTIZED_LSTM} node '{label}'");
        let err = |message: String| {
            self.ctx.error(
                OnnxProblem::Size,
                format!("{QUANTIZED_LSTM} node '{label}': {message}"),
            )
        };
        let input_value = |i: usize, part: &str| -> Result<Option<Arc<Value>>> {
            match f.node.input.get(i).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(name) => self.fold(what(part), &f.chain, name).map(Some),
            }
        };
        let q = input_value(input, role)?.ok_or_else(|| err(format!("has no {role}")))?;
        let (k, n) = match q.shape.as_slice() {
            [dd, k, n] if *dd == d && *k > 0 && *n > 0 && n % 4 == 0 => (*k, *n),
            _ => {
                return Err(err(format!(
                    "{role} has shape {:?}; direction needs [{d}, K, 4H] (quantized weights are transposed against LSTM's)",
                    q.shape
                )))
            }
        };
        let Data::Int(values) = &q.data else {
            return Err(err(format!("{role} holds floats; it must be int8 or uint8")));
        };
        if let Some(bad) = values.iter().find(|v| !(-128..=255).contains(*v)) {
            return Err(err(format!("{role} holds {bad}, outside int8 and uint8")));
        }
        let scale_name = format!("{role}_scale");
        let scale = input_value(scale_at, &scale_name)?.ok_or_else(|| err(format!("has no {scale_name}")))?;
        if per_channel(&scale.shape, d, n).is_none() {
            return Err(err(format!(
                "{scale_name} has shape {:?}; expected [{d}] or [{d}, {n}]",
                scale.shape
            )));
        }
        let scales = scale.floats(&self.ctx, &what(&scale_name))?;
        if let Some(bad) = scales.iter().find(|s| !s.is_finite()) {
            return Err(err(format!("{scale_name} holds {bad}")));
        }
        let zero_name = format!("{role}_zero_point");
        let zeros = match input_value(zero_at, &zero_name)? {
            None => vec![0; scales.len()],
            Some(z) if z.shape == scale.shape => z.ints(&self.ctx, &what(&zero_name))?,
            Some(z) => {
                return Err(err(format!(
                    "{zero_name} has shape {:?}, but {scale_name} {:?}",
                    z.shape, scale.shape
                )))
            }
        };
        // Scale and zero point of (direction, output channel).
        let channels = scales.len() / d;
        let at = |dir: usize, j: usize| dir * channels + if channels == 1 { 0 } else { j };
        let mut out = Vec::with_capacity(values.len());
        let mut row_scales = Vec::with_capacity(d * n);
        for dir in 0..d {
            for j in 0..n {
                let (s, z) = (scales[at(dir, j)], zeros[at(dir, j)]);
                let row = (0..k).map(|kk| values[(dir * k + kk) * n + j] - z);
                let fits = row.clone().all(|q| (-128..=127).contains(&q));
                row_scales.push((fits && s > 0.0 && s.is_normal()).then_some(s));
                out.extend(row.map(|q| q as f64 * s as f64));
            }
        }
        let value = Arc::new(Value {
            shape: vec![d, n, k],
            data: Data::Float(out),
        });
        Ok((value, row_scales))
    }

    /// What `info` says of a quantized node's weights: `W int8 per output channel, R int8 per
    /// direction`.
    pub(super) fn quantization(&self, f: &Found<'_>) -> String {
        [Quantized::W, Quantized::R]
            .map(|which| {
                let (role, input, scale_at, _) = which.inputs();
                let element = |i: usize| {
                    let name = f.node.input.get(i)?;
                    let mut state = self.fold.lock().unwrap_or_else(|e| e.into_inner());
                    match state.lookup(&f.chain, name) {
                        Some(Source::Initializer(t)) => Some((t.data_type.unwrap_or(0), t.dims.clone())),
                        _ => None,
                    }
                };
                let kind = element(input).map_or("8-bit".into(), |(t, _)| type_name(t).to_lowercase());
                let granularity = match element(scale_at).map(|(_, dims)| dims.len()) {
                    Some(1) => "per direction",
                    Some(2) => "per output channel",
                    _ => "scales computed in the graph",
                };
                format!("{role} {kind} {granularity}")
            })
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::onnx::proto::{tensor_proto::DataType, GraphProto, ModelProto, NodeProto, TensorProto};

    /// A tensor of `kind` holding `data` (int32 storage carries every 8-bit type).
    fn tensor(name: &str, dims: &[i64], kind: DataType, data: &[f64]) -> TensorProto {
        let mut t = TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(kind as i32),
            ..Default::default()
        };
        match kind {
            DataType::Float => t.float_data = data.iter().map(|&x| x as f32).collect(),
            _ => t.int32_data = data.iter().map(|&x| x as i32).collect(),
        }
        t
    }

    /// One unidirectional DynamicQuantizeLSTM of I = 1, H = 1 (`op` and `domain` as given) over
    /// `inits`, replaced by name in the defaults: W [[[1, -2, 3, 4]]] int8, R [[[5, 6, -7, 8]]]
    /// int8, scales 0.5 and 0.25 per direction, zero points 1 and 0.
    fn model(op: &str, domain: &str, replace: Vec<TensorProto>) -> OnnxModel {
        let mut inits = vec![
            tensor("W", &[1, 1, 4], DataType::Int8, &[1.0, -2.0, 3.0, 4.0]),
            tensor("R", &[1, 1, 4], DataType::Int8, &[5.0, 6.0, -7.0, 8.0]),
            tensor("Ws", &[1], DataType::Float, &[0.5]),
            tensor("Wz", &[1], DataType::Int8, &[1.0]),
            tensor("Rs", &[1], DataType::Float, &[0.25]),
            tensor("Rz", &[1], DataType::Int8, &[0.0]),
        ];
        for t in replace {
            match inits.iter_mut().find(|i| i.name == t.name) {
                Some(slot) => *slot = t,
                None => inits.push(t),
            }
        }
        let node = NodeProto {
            op_type: Some(op.into()),
            domain: Some(domain.into()),
            name: Some("q".into()),
            input: ["X", "W", "R", "", "", "", "", "", "Ws", "Wz", "Rs", "Rz"]
                .map(String::from)
                .to_vec(),
            output: vec!["Y".into()],
            ..Default::default()
        };
        let bytes = ModelProto {
            ir_version: Some(8),
            graph: Some(GraphProto {
                node: vec![node],
                initializer: inits,
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        OnnxModel::from_bytes(&bytes, None).unwrap()
    }

    fn refused(replace: Vec<TensorProto>, needle: &str) {
        let err = model(QUANTIZED_LSTM, "com.microsoft", replace)
            .load(&[])
            .err()
            .unwrap_or_else(|| panic!("loaded; expected {needle:?}"))
            .to_string();
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn weights_dequantize_into_lstm_layout() {
        let lstm = model(QUANTIZED_LSTM, "com.microsoft", vec![]).load(&[]).unwrap();
        let d = &lstm.weights.layers()[0][0];
        // (q − zero point)·scale, W's gates (ONNX's i, o, f, c) from its last axis, in the
        // engine's order (i, f, g, o).
        assert_eq!(d.w_ih, &[0.0, 1.0, 1.5, -1.5]);
        assert_eq!(d.w_hh, &[1.25, -1.75, 2.0, 1.5]);
        // Per output channel, with a zero point per channel.
        let per_channel = vec![
            tensor("Ws", &[1, 4], DataType::Float, &[1.0, 2.0, 3.0, 4.0]),
            tensor("Wz", &[1, 4], DataType::Uint8, &[0.0, 0.0, 1.0, 2.0]),
        ];
        let lstm = model(QUANTIZED_LSTM, "com.microsoft", per_channel)
            .load(&[])
            .unwrap();
        assert_eq!(lstm.weights.layers()[0][0].w_ih, &[1.0, 6.0, 8.0, -4.0]);
    }

    #[test]
    fn malformed_quantized_weights_are_one_clear_error() {
        refused(
            vec![tensor("W", &[1, 1, 4], DataType::Float, &[1.0; 4])],
            "W holds floats",
        );
        refused(
            vec![tensor("R", &[1, 1, 4], DataType::Int32, &[300.0, 0.0, 0.0, 0.0])],
            "outside int8 and uint8",
        );
        refused(
            vec![tensor("W", &[1, 4, 1], DataType::Int8, &[1.0; 4])],
            "needs [1, K, 4H]",
        );
        refused(
            vec![tensor("Ws", &[3], DataType::Float, &[1.0; 3])],
            "W_scale has shape [3]",
        );
        refused(
            vec![tensor("Rz", &[1, 4], DataType::Int8, &[0.0; 4])],
            "R_zero_point has shape [1, 4]",
        );
        refused(
            vec![tensor("Rs", &[1], DataType::Float, &[f64::NAN])],
            "R_scale holds NaN",
        );
        refused(
            vec![tensor("R", &[1, 2, 4], DataType::Int8, &[0.0; 8])],
            "R has shape",
        );
    }

    #[test]
    fn other_recurrent_operators_are_named() {
        // The same node in another domain is not onnxruntime's operator: named, not read.
        let err = model(QUANTIZED_LSTM, "example.org", vec![])
            .load(&[])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no LSTM node")
                && err.contains(
                    "DynamicQuantizeLSTM node 'q' (example.org), which the engine does not implement"
                ),
            "{err}"
        );
        let m = model("AttnLSTM", "com.microsoft", vec![]);
        assert_eq!(m.other_recurrent_nodes(), ["AttnLSTM node 'q' (com.microsoft)"]);
        let err = m.load(&["x"]).err().unwrap().to_string();
        assert!(
            err.contains("the model has none (it has AttnLSTM node 'q'"),
            "{err}"
        );
    }
}
