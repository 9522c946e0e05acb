//! The folded ops, one arm each, and the helpers they share (casts, reshapes, ranks). Every
//! size, sum and index is checked; every result is counted against the folding budget before it
//! is allocated, and allocated fallibly (`select.rs`); a result with no elements is never walked.

use super::select::{slice_axis, Pick};
use super::*;

impl Folder<'_> {
    /// Output `index` of `node`, whose inputs are looked up in `chain` (`eval` has computed
    /// them).
    pub(super) fn node(
        &mut self,
        chain: &[&GraphProto],
        node: &NodeProto,
        index: usize,
    ) -> Result<Arc<Value>> {
        let op = node.op_type.as_deref().unwrap_or("");
        if !node_is_foldable(node) {
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
        let value = match op {
            "Constant" => self.constant(node)?,
            // The same value: nothing is copied along a chain of Identity nodes.
            "Identity" => return self.required(chain, node, 0),
            "Cast" => {
                let v = self.required(chain, node, 0)?;
                let to = self.int_attr(node, "to").unwrap_or(0) as i32;
                self.cast(&v, to, &label)?
            }
            "Reshape" => {
                let v = self.required(chain, node, 0)?;
                let shape = self
                    .required(chain, node, 1)?
                    .ints(ctx, &format!("{label}'s shape"))?;
                self.rank(shape.len(), &label)?;
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
                        _ => {
                            return Err(self.error(
                                OnnxProblem::Size,
                                format!("{label}: shape {shape:?} (one -1 at most, no other negative)"),
                            ))
                        }
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
                self.reshaped(&v, out, &label)?
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
                        Some(axes) => {
                            self.rank(axes.len(), &label)?;
                            axes.iter()
                                .map(|&a| self.axis(node, a, rank))
                                .collect::<Result<_>>()?
                        }
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
                    let rank = shape.len().saturating_add(axes.len());
                    self.rank(rank, &label)?;
                    let mut at: Vec<usize> = axes
                        .iter()
                        .map(|&a| self.axis(node, a, rank))
                        .collect::<Result<_>>()?;
                    at.sort_unstable();
                    if at.windows(2).any(|w| w[0] == w[1]) {
                        return Err(self.error(
                            OnnxProblem::Size,
                            format!("{label}: axes {axes:?} name one axis twice"),
                        ));
                    }
                    for i in at {
                        shape.insert(i.min(shape.len()), 1);
                    }
                }
                self.reshaped(&v, shape, &label)?
            }
            "Transpose" => {
                let v = self.required(chain, node, 0)?;
                let rank = v.shape.len();
                let perm: Vec<usize> = match self.ints_attr(node, "perm") {
                    Some(p) if !p.is_empty() => {
                        self.rank(p.len(), &label)?;
                        p.iter()
                            .map(|&a| self.axis(node, a, rank))
                            .collect::<Result<_>>()?
                    }
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
                let picks: Vec<Pick> = perm.iter().map(|&p| Pick::all(v.shape[p])).collect();
                self.select(&v, &picks, Some(&perm), &label)?
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
                self.rank(starts.len(), &label)?;
                let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
                if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
                    return Err(self.error(
                        OnnxProblem::Size,
                        format!("{label}: starts, ends, axes and steps differ in length"),
                    ));
                }
                let mut picks: Vec<Pick> = v.shape.iter().map(|&d| Pick::all(d)).collect();
                let mut sliced = vec![false; rank];
                for k in 0..starts.len() {
                    let axis = self.axis(node, axes[k], rank)?;
                    if std::mem::replace(&mut sliced[axis], true) {
                        return Err(self.error(
                            OnnxProblem::Size,
                            format!("{label}: axes {axes:?} name one axis twice"),
                        ));
                    }
                    if steps[k] == 0 {
                        return Err(self.error(OnnxProblem::Size, format!("{label}: a step of 0")));
                    }
                    picks[axis] = slice_axis(v.shape[axis], starts[k], ends[k], steps[k]);
                }
                self.select(&v, &picks, None, &label)?
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
                    .ok_or_else(|| self.error(OnnxProblem::Size, format!("{label} has no inputs")))?
                    .clone();
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
                    shape[axis] = shape[axis].checked_add(p.shape[axis]).ok_or_else(|| {
                        self.error(
                            OnnxProblem::Size,
                            format!("{label}: the sizes along axis {axis} overflow"),
                        )
                    })?;
                }
                let n = elements(ctx, &label, &shape)?;
                self.charge(n, &label)?;
                let mut data = match first.data {
                    Data::Float(_) => Data::Float(self.allocate(n, &label)?),
                    Data::Int(_) => Data::Int(self.allocate(n, &label)?),
                };
                if n > 0 {
                    // With elements, every dimension is at least 1: outer ≤ n.
                    let outer: usize = shape[..axis].iter().product();
                    let parts: Vec<(usize, &Value)> = parts
                        .iter()
                        .map(|p| (p.shape[axis..].iter().product(), &**p))
                        .filter(|&(chunk, _)| chunk > 0)
                        .collect();
                    for o in 0..outer {
                        for &(chunk, p) in &parts {
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
                }
                Value { shape, data }
            }
            "Split" => {
                let v = self.required(chain, node, 0)?;
                let rank = v.shape.len();
                let axis = self.axis(node, self.int_attr(node, "axis").unwrap_or(0), rank)?;
                let dim = v.shape[axis];
                let outputs = node.output.len();
                let sizes: Vec<i64> = match self.input(chain, node, 1)? {
                    Some(s) => s.ints(ctx, &format!("{label}'s split"))?,
                    None => match self.ints_attr(node, "split").filter(|s| !s.is_empty()) {
                        Some(s) => s,
                        None => {
                            if let Some(n) = self.int_attr(node, "num_outputs") {
                                if n != outputs as i64 {
                                    return Err(self.error(
                                        OnnxProblem::Size,
                                        format!("{label}: num_outputs {n} for a node of {outputs} outputs"),
                                    ));
                                }
                            }
                            let each = dim.div_ceil(outputs.max(1));
                            (0..outputs)
                                .map(|i| each.min(dim.saturating_sub(i.saturating_mul(each))) as i64)
                                .collect()
                        }
                    },
                };
                let total = sizes.iter().try_fold(0u64, |acc, &s| {
                    u64::try_from(s).ok().and_then(|s| acc.checked_add(s))
                });
                if sizes.len() != outputs || total != Some(dim as u64) || index >= sizes.len() {
                    return Err(self.error(
                        OnnxProblem::Size,
                        format!(
                            "{label}: parts {} of a dimension of {dim} for {outputs} outputs",
                            listed(&sizes)
                        ),
                    ));
                }
                let start = sizes[..index].iter().sum::<i64>() as usize;
                let mut picks: Vec<Pick> = v.shape.iter().map(|&d| Pick::all(d)).collect();
                picks[axis] = Pick::Strided {
                    start,
                    step: 1,
                    count: sizes[index] as usize,
                };
                self.select(&v, &picks, None, &label)?
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
                        let j = if i < 0 { i.saturating_add(dim) } else { i };
                        if (0..dim).contains(&j) {
                            Ok(j as usize)
                        } else {
                            Err(self.error(OnnxProblem::Size, format!("{label}: index {i} outside 0..{dim}")))
                        }
                    })
                    .collect::<Result<_>>()?;
                let mut shape = v.shape[..axis].to_vec();
                shape.extend(&indices.shape);
                shape.extend(&v.shape[axis + 1..]);
                self.rank(shape.len(), &label)?;
                let mut picks: Vec<Pick> = v.shape.iter().map(|&d| Pick::all(d)).collect();
                picks[axis] = Pick::List(picked);
                let flat = self.select(&v, &picks, None, &label)?;
                Value {
                    shape,
                    data: flat.data,
                }
            }
            _ => unreachable!("FOLDABLE lists the ops above"),
        };
        Ok(Arc::new(value))
    }

    pub(super) fn constant(&mut self, node: &NodeProto) -> Result<Value> {
        let label = node_label(node);
        let a = node
            .attribute
            .first()
            .ok_or_else(|| self.error(OnnxProblem::Unsupported, format!("{label} has no value")))?;
        let ty = a.r#type.and_then(|t| AttributeType::try_from(t).ok());
        let scalar = |data: Data| Value { shape: vec![], data };
        match (a.name.as_deref().unwrap_or(""), ty) {
            ("value", _) => {
                let t = a.t.as_ref().ok_or_else(|| {
                    self.error(
                        OnnxProblem::Unsupported,
                        format!("{label}: value holds no tensor"),
                    )
                })?;
                self.decode_tensor(t, &label)
            }
            ("value_float", _) => Ok(scalar(Data::Float(vec![a.f.unwrap_or(0.0) as f64]))),
            ("value_floats", _) => {
                self.charge(a.floats.len(), &label)?;
                Ok(Value {
                    shape: vec![a.floats.len()],
                    data: Data::Float(a.floats.iter().map(|&x| x as f64).collect()),
                })
            }
            ("value_int", _) => Ok(scalar(Data::Int(vec![a.i.unwrap_or(0)]))),
            ("value_ints", _) => {
                self.charge(a.ints.len(), &label)?;
                Ok(Value {
                    shape: vec![a.ints.len()],
                    data: Data::Int(a.ints.clone()),
                })
            }
            (other, _) => Err(self.error(
                OnnxProblem::Unsupported,
                format!(
                    "{label}: a '{other}' constant (the loader reads value, value_float(s) and value_int(s))"
                ),
            )),
        }
    }

    pub(super) fn cast(&mut self, v: &Value, to: i32, label: &str) -> Result<Value> {
        use tensor_proto::DataType as T;
        self.charge(v.len(), label)?;
        let to_type = T::try_from(to).ok();
        let floats = |f: &dyn Fn(f64) -> f64| -> Option<Data> {
            Some(match &v.data {
                Data::Float(x) => Data::Float(x.iter().map(|&x| f(x)).collect()),
                Data::Int(x) => Data::Float(x.iter().map(|&x| f(x as f64)).collect()),
            })
        };
        let data = match (to_type, &v.data) {
            (Some(T::Float), _) => floats(&|x| x as f32 as f64),
            (Some(T::Float16), _) => floats(&|x| half::f16::from_f64(x).to_f64()),
            (Some(T::Bfloat16), _) => floats(&|x| half::bf16::from_f64(x).to_f64()),
            (Some(T::Double), _) => floats(&|x| x),
            (Some(T::Bool), Data::Int(x)) => Some(Data::Int(x.iter().map(|&x| (x != 0) as i64).collect())),
            (Some(T::Bool), Data::Float(x)) => {
                Some(Data::Int(x.iter().map(|&x| (x != 0.0) as i64).collect()))
            }
            (
                Some(T::Int8 | T::Uint8 | T::Int16 | T::Uint16 | T::Int32 | T::Uint32 | T::Int64 | T::Uint64),
                Data::Int(x),
            ) => Some(Data::Int(x.clone())),
            (
                Some(T::Int8 | T::Uint8 | T::Int16 | T::Uint16 | T::Int32 | T::Uint32 | T::Int64 | T::Uint64),
                Data::Float(x),
            ) => Some(Data::Int(x.iter().map(|&x| x.trunc() as i64).collect())),
            _ => None,
        };
        let data = data.ok_or_else(|| {
            self.error(
                OnnxProblem::Unsupported,
                format!("{label}: a cast to {}", super::super::value::type_name(to)),
            )
        })?;
        Ok(Value {
            shape: v.shape.clone(),
            data,
        })
    }

    /// `v`'s elements under `shape` (a copy, counted against the budget).
    pub(super) fn reshaped(&mut self, v: &Value, shape: Vec<usize>, label: &str) -> Result<Value> {
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
        self.charge(v.len(), label)?;
        Ok(Value {
            shape,
            data: v.data.clone(),
        })
    }

    /// A rank no larger than [`MAX_RANK`].
    pub(super) fn rank(&self, rank: usize, label: &str) -> Result<()> {
        if rank > MAX_RANK {
            return Err(self.error(
                OnnxProblem::Size,
                format!("{label}: rank {rank} (at most {MAX_RANK})"),
            ));
        }
        Ok(())
    }
}

/// A list for a message: at most eight items, then how many more.
fn listed(items: &[i64]) -> String {
    const SHOWN: usize = 8;
    let head: Vec<String> = items.iter().take(SHOWN).map(i64::to_string).collect();
    match items.len() {
        n if n > SHOWN => format!("[{}, … {} more]", head.join(", "), n - SHOWN),
        _ => format!("[{}]", head.join(", ")),
    }
}
