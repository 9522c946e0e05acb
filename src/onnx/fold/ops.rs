//! The folded ops, one arm each, and the helpers they share (casts, reshapes, strided
//! selection).

use super::*;

impl Folder<'_> {
    /// Output `index` of `node`, whose inputs are looked up in `chain`.
    pub(super) fn node(&mut self, chain: &[&GraphProto], node: &NodeProto, index: usize) -> Result<Value> {
        let op = node.op_type.as_deref().unwrap_or("");
        let domain = node.domain.as_deref().unwrap_or("");
        if !(domain.is_empty() || domain == "ai.onnx") || !FOLDABLE.contains(&op) {
            return Err(self.error(
                OnnxProblem::NotFoldable,
                format!(
                    "'{}' is computed by {}, which the loader does not evaluate (it folds {})",
                    node.output[index],
                    node_label(node),
                    FOLDABLE.join(", ")
                ),
            ));
        }
        let label = node_label(node);
        let ctx = self.ctx;
        match op {
            "Constant" => self.constant(node),
            "Identity" => self.required(chain, node, 0),
            "Cast" => {
                let v = self.required(chain, node, 0)?;
                let to = self.int_attr(node, "to").unwrap_or(0) as i32;
                self.cast(v, to, &label)
            }
            "Reshape" => {
                let v = self.required(chain, node, 0)?;
                let shape = self
                    .required(chain, node, 1)?
                    .ints(ctx, &format!("{label}'s shape"))?;
                let allow_zero = self.int_attr(node, "allowzero").unwrap_or(0) != 0;
                let mut out = Vec::with_capacity(shape.len());
                let mut infer = None;
                for (i, &s) in shape.iter().enumerate() {
                    out.push(match s {
                        0 if !allow_zero => *v.shape.get(i).ok_or_else(|| {
                            self.error(
                                OnnxProblem::Size,
                                format!("{label}: 0 copies dimension {i}, which the input lacks"),
                            )
                        })?,
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            1
                        }
                        s if s >= 0 => s as usize,
                        _ => return Err(self.error(OnnxProblem::Size, format!("{label}: shape {shape:?}"))),
                    });
                }
                let known = elements(ctx, &label, &out)?;
                if let Some(i) = infer {
                    if known == 0 || v.len() % known != 0 {
                        return Err(self.error(
                            OnnxProblem::Size,
                            format!("{label}: {} elements do not reshape to {shape:?}", v.len()),
                        ));
                    }
                    out[i] = v.len() / known;
                }
                self.reshaped(v, out, &label)
            }
            "Squeeze" | "Unsqueeze" => {
                let v = self.required(chain, node, 0)?;
                let axes = match self.input(chain, node, 1)? {
                    Some(a) => Some(a.ints(ctx, &format!("{label}'s axes"))?),
                    None => self.ints_attr(node, "axes"),
                };
                let mut shape = v.shape.clone();
                if op == "Squeeze" {
                    let rank = shape.len();
                    let mut drop: Vec<usize> = match axes {
                        Some(axes) => axes
                            .iter()
                            .map(|&a| self.axis(node, a, rank))
                            .collect::<Result<_>>()?,
                        None => (0..rank).filter(|&i| shape[i] == 1).collect(),
                    };
                    drop.sort_unstable();
                    drop.dedup();
                    for &i in drop.iter().rev() {
                        if shape[i] != 1 {
                            return Err(self.error(
                                OnnxProblem::Size,
                                format!("{label}: dimension {i} of {:?} is not 1", v.shape),
                            ));
                        }
                        shape.remove(i);
                    }
                } else {
                    let axes = axes.unwrap_or_default();
                    let rank = shape.len() + axes.len();
                    let mut at: Vec<usize> = axes
                        .iter()
                        .map(|&a| self.axis(node, a, rank))
                        .collect::<Result<_>>()?;
                    at.sort_unstable();
                    for i in at {
                        shape.insert(i.min(shape.len()), 1);
                    }
                }
                self.reshaped(v, shape, &label)
            }
            "Transpose" => {
                let v = self.required(chain, node, 0)?;
                let rank = v.shape.len();
                let perm: Vec<usize> = match self.ints_attr(node, "perm") {
                    Some(p) if !p.is_empty() => p
                        .iter()
                        .map(|&a| self.axis(node, a, rank))
                        .collect::<Result<_>>()?,
                    _ => (0..rank).rev().collect(),
                };
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..rank).collect::<Vec<_>>() {
                    return Err(self.error(
                        OnnxProblem::Size,
                        format!("{label}: perm {perm:?} for rank {rank}"),
                    ));
                }
                // Index lists in the permuted order, then the gather walks the output row-major.
                let shape: Vec<usize> = perm.iter().map(|&p| v.shape[p]).collect();
                let strides = strides(&v.shape);
                let out_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
                Ok(gather_strided(&v, shape, &out_strides, 0))
            }
            "Slice" => {
                let v = self.required(chain, node, 0)?;
                let (starts, ends, axes, steps) = if node.input.len() >= 3 {
                    let get = |f: &mut Self, i: usize, what: &str| -> Result<Option<Vec<i64>>> {
                        f.input(chain, node, i)?
                            .map(|x| x.ints(ctx, &format!("{label}'s {what}")))
                            .transpose()
                    };
                    (
                        get(self, 1, "starts")?.unwrap_or_default(),
                        get(self, 2, "ends")?.unwrap_or_default(),
                        get(self, 3, "axes")?,
                        get(self, 4, "steps")?,
                    )
                } else {
                    (
                        self.ints_attr(node, "starts").unwrap_or_default(),
                        self.ints_attr(node, "ends").unwrap_or_default(),
                        self.ints_attr(node, "axes"),
                        None,
                    )
                };
                let rank = v.shape.len();
                let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
                if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
                    return Err(self.error(
                        OnnxProblem::Size,
                        format!("{label}: starts, ends, axes and steps differ in length"),
                    ));
                }
                let mut ranges: Vec<Vec<usize>> = v.shape.iter().map(|&d| (0..d).collect()).collect();
                for k in 0..starts.len() {
                    let axis = self.axis(node, axes[k], rank)?;
                    let dim = v.shape[axis] as i64;
                    let step = steps[k];
                    if step == 0 {
                        return Err(self.error(OnnxProblem::Size, format!("{label}: a step of 0")));
                    }
                    let norm = |x: i64| if x < 0 { x.saturating_add(dim) } else { x };
                    let (start, end) = (norm(starts[k]), norm(ends[k]));
                    let picked: Vec<usize> = if step > 0 {
                        let (s, e) = (start.clamp(0, dim), end.clamp(0, dim));
                        (s..e).step_by(step as usize).map(|i| i as usize).collect()
                    } else {
                        let (s, e) = (start.clamp(0, dim - 1), end.clamp(-1, dim - 1));
                        let mut out = Vec::new();
                        let mut i = s;
                        while i > e {
                            out.push(i as usize);
                            i += step;
                        }
                        out
                    };
                    ranges[axis] = picked;
                }
                self.select(&v, &ranges, &label)
            }
            "Concat" => {
                let axis = self.int_attr(node, "axis").unwrap_or(0);
                let mut parts = Vec::new();
                for i in 0..node.input.len() {
                    if let Some(p) = self.input(chain, node, i)? {
                        parts.push(p);
                    }
                }
                let first = parts
                    .first()
                    .ok_or_else(|| self.error(OnnxProblem::Size, format!("{label} has no inputs")))?;
                let rank = first.shape.len();
                let axis = self.axis(node, axis, rank)?;
                let mut shape = first.shape.clone();
                shape[axis] = 0;
                for p in &parts {
                    let same = p.shape.len() == rank
                        && (0..rank).all(|i| i == axis || p.shape[i] == first.shape[i])
                        && std::mem::discriminant(&p.data) == std::mem::discriminant(&first.data);
                    if !same {
                        return Err(self.error(
                            OnnxProblem::Size,
                            format!(
                                "{label}: inputs of shapes {:?} and {:?} do not concatenate on axis {axis}",
                                first.shape, p.shape
                            ),
                        ));
                    }
                    shape[axis] += p.shape[axis];
                }
                elements(ctx, &label, &shape)?;
                let outer: usize = shape[..axis].iter().product();
                let mut data = match first.data {
                    Data::Float(_) => Data::Float(Vec::new()),
                    Data::Int(_) => Data::Int(Vec::new()),
                };
                for o in 0..outer {
                    for p in &parts {
                        let chunk: usize = p.shape[axis..].iter().product();
                        match (&mut data, &p.data) {
                            (Data::Float(out), Data::Float(src)) => {
                                out.extend_from_slice(&src[o * chunk..][..chunk])
                            }
                            (Data::Int(out), Data::Int(src)) => {
                                out.extend_from_slice(&src[o * chunk..][..chunk])
                            }
                            _ => unreachable!("checked above"),
                        }
                    }
                }
                Ok(Value { shape, data })
            }
            "Split" => {
                let v = self.required(chain, node, 0)?;
                let rank = v.shape.len();
                let axis = self.axis(node, self.int_attr(node, "axis").unwrap_or(0), rank)?;
                let dim = v.shape[axis];
                let sizes: Vec<usize> = match self.input(chain, node, 1)? {
                    Some(s) => s
                        .ints(ctx, &format!("{label}'s split"))?
                        .iter()
                        .map(|&x| x.max(0) as usize)
                        .collect(),
                    None => match self.ints_attr(node, "split").filter(|s| !s.is_empty()) {
                        Some(s) => s.iter().map(|&x| x.max(0) as usize).collect(),
                        None => {
                            let n = self
                                .int_attr(node, "num_outputs")
                                .map_or(node.output.len(), |n| n.max(1) as usize);
                            let each = dim.div_ceil(n.max(1));
                            (0..n).map(|i| each.min(dim.saturating_sub(i * each))).collect()
                        }
                    },
                };
                if sizes.iter().sum::<usize>() != dim || index >= sizes.len() {
                    return Err(self.error(
                        OnnxProblem::Size,
                        format!("{label}: parts {sizes:?} of a dimension of {dim}"),
                    ));
                }
                let start: usize = sizes[..index].iter().sum();
                let mut ranges: Vec<Vec<usize>> = v.shape.iter().map(|&d| (0..d).collect()).collect();
                ranges[axis] = (start..start + sizes[index]).collect();
                self.select(&v, &ranges, &label)
            }
            "Gather" => {
                let v = self.required(chain, node, 0)?;
                let indices = self.required(chain, node, 1)?;
                let idx = indices.ints(ctx, &format!("{label}'s indices"))?;
                let rank = v.shape.len();
                let axis = self.axis(node, self.int_attr(node, "axis").unwrap_or(0), rank)?;
                let dim = v.shape[axis] as i64;
                let picked: Vec<usize> = idx
                    .iter()
                    .map(|&i| {
                        let j = if i < 0 { i + dim } else { i };
                        if (0..dim).contains(&j) {
                            Ok(j as usize)
                        } else {
                            Err(self.error(OnnxProblem::Size, format!("{label}: index {i} outside 0..{dim}")))
                        }
                    })
                    .collect::<Result<_>>()?;
                let mut ranges: Vec<Vec<usize>> = v.shape.iter().map(|&d| (0..d).collect()).collect();
                ranges[axis] = picked;
                let flat = self.select(&v, &ranges, &label)?;
                let mut shape = v.shape[..axis].to_vec();
                shape.extend(&indices.shape);
                shape.extend(&v.shape[axis + 1..]);
                self.reshaped(flat, shape, &label)
            }
            _ => unreachable!("FOLDABLE lists the ops above"),
        }
    }

    pub(super) fn constant(&mut self, node: &NodeProto) -> Result<Value> {
        let label = node_label(node);
        let a = node
            .attribute
            .first()
            .ok_or_else(|| self.error(OnnxProblem::Unsupported, format!("{label} has no value")))?;
        let ty = a.r#type.and_then(|t| AttributeType::try_from(t).ok());
        match (a.name.as_deref().unwrap_or(""), ty) {
            ("value", _) => {
                let t = a.t.as_ref().ok_or_else(|| {
                    self.error(
                        OnnxProblem::Unsupported,
                        format!("{label}: value holds no tensor"),
                    )
                })?;
                decode(self.ctx, t, &label)
            }
            ("value_float", _) => Ok(Value {
                shape: vec![],
                data: Data::Float(vec![a.f.unwrap_or(0.0) as f64]),
            }),
            ("value_floats", _) => Ok(Value {
                shape: vec![a.floats.len()],
                data: Data::Float(a.floats.iter().map(|&x| x as f64).collect()),
            }),
            ("value_int", _) => Ok(Value {
                shape: vec![],
                data: Data::Int(vec![a.i.unwrap_or(0)]),
            }),
            ("value_ints", _) => Ok(Value {
                shape: vec![a.ints.len()],
                data: Data::Int(a.ints.clone()),
            }),
            (other, _) => Err(self.error(
                OnnxProblem::Unsupported,
                format!(
                    "{label}: a '{other}' constant (the loader reads value, value_float(s) and value_int(s))"
                ),
            )),
        }
    }

    pub(super) fn cast(&self, v: Value, to: i32, label: &str) -> Result<Value> {
        use tensor_proto::DataType as T;
        let to_type = T::try_from(to).ok();
        let data = match (to_type, v.data) {
            (Some(T::Float), Data::Float(x)) => Data::Float(x.into_iter().map(|x| x as f32 as f64).collect()),
            (Some(T::Float16), Data::Float(x)) => {
                Data::Float(x.into_iter().map(|x| half::f16::from_f64(x).to_f64()).collect())
            }
            (Some(T::Bfloat16), Data::Float(x)) => {
                Data::Float(x.into_iter().map(|x| half::bf16::from_f64(x).to_f64()).collect())
            }
            (Some(T::Double), Data::Float(x)) => Data::Float(x),
            (Some(T::Float | T::Double), Data::Int(x)) => {
                Data::Float(x.into_iter().map(|x| x as f64).collect())
            }
            (Some(T::Float16), Data::Int(x)) => Data::Float(
                x.into_iter()
                    .map(|x| half::f16::from_f64(x as f64).to_f64())
                    .collect(),
            ),
            (Some(T::Bfloat16), Data::Int(x)) => Data::Float(
                x.into_iter()
                    .map(|x| half::bf16::from_f64(x as f64).to_f64())
                    .collect(),
            ),
            (Some(T::Bool), Data::Int(x)) => Data::Int(x.into_iter().map(|x| (x != 0) as i64).collect()),
            (Some(T::Bool), Data::Float(x)) => Data::Int(x.into_iter().map(|x| (x != 0.0) as i64).collect()),
            (
                Some(T::Int8 | T::Uint8 | T::Int16 | T::Uint16 | T::Int32 | T::Uint32 | T::Int64 | T::Uint64),
                Data::Int(x),
            ) => Data::Int(x),
            (
                Some(T::Int8 | T::Uint8 | T::Int16 | T::Uint16 | T::Int32 | T::Uint32 | T::Int64 | T::Uint64),
                Data::Float(x),
            ) => Data::Int(x.into_iter().map(|x| x.trunc() as i64).collect()),
            _ => {
                return Err(self.error(
                    OnnxProblem::Unsupported,
                    format!("{label}: a cast to {}", super::super::value::type_name(to)),
                ))
            }
        };
        Ok(Value { shape: v.shape, data })
    }

    pub(super) fn reshaped(&self, v: Value, shape: Vec<usize>, label: &str) -> Result<Value> {
        if elements(self.ctx, label, &shape)? != v.len() {
            return Err(self.error(
                OnnxProblem::Size,
                format!(
                    "{label}: {} elements of shape {:?} do not fit shape {shape:?}",
                    v.len(),
                    v.shape
                ),
            ));
        }
        Ok(Value { shape, data: v.data })
    }

    /// The elements at every combination of `ranges[axis]` indices, row-major.
    pub(super) fn select(&self, v: &Value, ranges: &[Vec<usize>], label: &str) -> Result<Value> {
        let shape: Vec<usize> = ranges.iter().map(Vec::len).collect();
        let n = elements(self.ctx, label, &shape)?;
        let strides = strides(&v.shape);
        let mut offsets = vec![0usize; n.max(1)];
        let mut count = 1;
        // Offsets built axis by axis: each existing offset times each index of the next axis.
        offsets[0] = 0;
        for (axis, picked) in ranges.iter().enumerate() {
            let mut next = Vec::with_capacity(count * picked.len());
            for &o in &offsets[..count] {
                for &i in picked {
                    next.push(o + i * strides[axis]);
                }
            }
            count = next.len();
            offsets = next;
            if count == 0 {
                break;
            }
        }
        let offsets = &offsets[..count.min(n)];
        let data = match &v.data {
            Data::Float(src) => Data::Float(offsets.iter().map(|&o| src[o]).collect()),
            Data::Int(src) => Data::Int(offsets.iter().map(|&o| src[o]).collect()),
        };
        Ok(Value { shape, data })
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// Row-major walk of `shape` where axis k advances `steps[k]` elements of `v` (a transpose).
fn gather_strided(v: &Value, shape: Vec<usize>, steps: &[usize], base: usize) -> Value {
    let n: usize = shape.iter().product();
    let mut offsets = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..n {
        offsets.push(base + index.iter().zip(steps).map(|(i, s)| i * s).sum::<usize>());
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    let data = match &v.data {
        Data::Float(src) => Data::Float(offsets.iter().map(|&o| src[o]).collect()),
        Data::Int(src) => Data::Int(offsets.iter().map(|&o| src[o]).collect()),
    };
    Value { shape, data }
}
