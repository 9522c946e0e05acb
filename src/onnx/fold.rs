//! Constant folding: the value of a name in a graph (and the graphs around it), computed from
//! initializers and `Constant` nodes through the ops exporters put between a weight and the
//! LSTM: Identity, Cast, Reshape, Squeeze, Unsqueeze, Transpose, Slice, Concat, Split and
//! Gather. Either form of each op is read (axes, starts and split sizes as inputs since opset
//! 10/13, or as attributes before). A graph input, an op outside this list, a missing name and a
//! cycle are typed errors naming the value and the node.

use std::collections::{HashMap, HashSet};

use super::proto::{
    attribute_proto::AttributeType, tensor_proto, AttributeProto, GraphProto, NodeProto, TensorProto,
};
use super::value::{decode, elements, Data, Value};
use super::Ctx;
use crate::error::{OnnxProblem, Result};

/// Where a name is defined, found from the innermost graph outwards.
pub(crate) enum Source<'m> {
    Initializer(&'m TensorProto),
    /// Output `index` of a node of the graph at `scope` (an index into the chain).
    Node {
        node: &'m NodeProto,
        index: usize,
        scope: usize,
    },
    /// A graph input without an initializer: known only when the model runs.
    Input,
}

/// What `name` is in `chain` (outermost graph first): an initializer (which wins over a graph
/// input of the same name, the form older exporters use for weights), a node's output, or a
/// graph input.
pub(crate) fn lookup<'m>(chain: &[&'m GraphProto], name: &str) -> Option<Source<'m>> {
    for (scope, graph) in chain.iter().enumerate().rev() {
        if let Some(t) = graph.initializer.iter().find(|t| t.name.as_deref() == Some(name)) {
            return Some(Source::Initializer(t));
        }
        for node in &graph.node {
            if let Some(index) = node.output.iter().position(|o| o == name) {
                return Some(Source::Node { node, index, scope });
            }
        }
        if graph.input.iter().any(|i| i.name.as_deref() == Some(name)) {
            return Some(Source::Input);
        }
    }
    None
}

/// The ops this module evaluates.
pub(crate) const FOLDABLE: [&str; 11] = [
    "Constant",
    "Identity",
    "Cast",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Slice",
    "Concat",
    "Split",
    "Gather",
];

/// The most nodes one evaluation walks through.
const MAX_STEPS: usize = 100_000;

pub(crate) struct Folder<'a> {
    ctx: &'a Ctx,
    /// What is being resolved, for messages ("W of LSTM node 'x'").
    what: String,
    memo: HashMap<(usize, usize, String), Value>,
    visiting: HashSet<(usize, usize, String)>,
    steps: usize,
}

fn node_label(node: &NodeProto) -> String {
    let op = node.op_type.as_deref().unwrap_or("?");
    match node.name.as_deref() {
        Some(n) if !n.is_empty() => format!("{op} node '{n}'"),
        _ => format!(
            "{op} node (unnamed, output '{}')",
            node.output.first().map_or("", |s| s.as_str())
        ),
    }
}

fn attribute<'m>(node: &'m NodeProto, name: &str) -> Option<&'m AttributeProto> {
    node.attribute.iter().find(|a| a.name.as_deref() == Some(name))
}

impl<'a> Folder<'a> {
    pub fn new(ctx: &'a Ctx, what: String) -> Self {
        Folder {
            ctx,
            what,
            memo: HashMap::new(),
            visiting: HashSet::new(),
            steps: 0,
        }
    }

    fn error(&self, problem: OnnxProblem, message: String) -> crate::error::Error {
        self.ctx.error(problem, format!("{}: {message}", self.what))
    }

    /// The value of `name` seen from the innermost graph of `chain`.
    pub fn eval(&mut self, chain: &[&GraphProto], name: &str) -> Result<Value> {
        let key = (chain.as_ptr() as usize, chain.len(), name.to_string());
        if let Some(v) = self.memo.get(&key) {
            return Ok(v.clone());
        }
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.error(
                OnnxProblem::Unsupported,
                format!("more than {MAX_STEPS} nodes to evaluate"),
            ));
        }
        if !self.visiting.insert(key.clone()) {
            return Err(self.error(OnnxProblem::Cycle, format!("'{name}' depends on itself")));
        }
        let value = match lookup(chain, name) {
            None => Err(self.error(
                OnnxProblem::Missing,
                format!("'{name}' is neither an initializer, a node's output nor a graph input"),
            )),
            Some(Source::Input) if self.ctx.bound.contains_key(name) => Ok(self.ctx.bound[name].clone()),
            Some(Source::Input) => Err(self.error(
                OnnxProblem::NotConstant,
                format!("'{name}' is a graph input, known only when the model runs"),
            )),
            Some(Source::Initializer(t)) => decode(self.ctx, t, &format!("initializer '{name}'")),
            Some(Source::Node { node, index, scope }) => self.node(&chain[..=scope], node, index),
        };
        self.visiting.remove(&key);
        let value = value?;
        self.memo.insert(key, value.clone());
        Ok(value)
    }

    /// Input `i` of `node`, or `None` where it is absent or `''`.
    fn input(&mut self, chain: &[&GraphProto], node: &NodeProto, i: usize) -> Result<Option<Value>> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self.eval(chain, name).map(Some),
        }
    }

    fn required(&mut self, chain: &[&GraphProto], node: &NodeProto, i: usize) -> Result<Value> {
        self.input(chain, node, i)?.ok_or_else(|| {
            self.error(
                OnnxProblem::Unsupported,
                format!("{} lacks its input {i}", node_label(node)),
            )
        })
    }

    fn int_attr(&self, node: &NodeProto, name: &str) -> Option<i64> {
        attribute(node, name).and_then(|a| a.i)
    }

    fn ints_attr(&self, node: &NodeProto, name: &str) -> Option<Vec<i64>> {
        attribute(node, name).map(|a| a.ints.clone())
    }

    /// An axis in `-rank..rank` as an index.
    fn axis(&self, node: &NodeProto, axis: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        if axis < -r || axis >= r {
            return Err(self.error(
                OnnxProblem::Size,
                format!("{}: axis {axis} outside a rank-{rank} tensor", node_label(node)),
            ));
        }
        Ok(if axis < 0 {
            (axis + r) as usize
        } else {
            axis as usize
        })
    }

    /// Output `index` of `node`, whose inputs are looked up in `chain`.
    fn node(&mut self, chain: &[&GraphProto], node: &NodeProto, index: usize) -> Result<Value> {
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

    fn constant(&mut self, node: &NodeProto) -> Result<Value> {
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

    fn cast(&self, v: Value, to: i32, label: &str) -> Result<Value> {
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
                    format!("{label}: a cast to {}", super::value::type_name(to)),
                ))
            }
        };
        Ok(Value { shape: v.shape, data })
    }

    fn reshaped(&self, v: Value, shape: Vec<usize>, label: &str) -> Result<Value> {
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
    fn select(&self, v: &Value, ranges: &[Vec<usize>], label: &str) -> Result<Value> {
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

#[cfg(test)]
mod tests {
    use super::super::proto::{tensor_proto::DataType, AttributeProto, GraphProto, NodeProto, TensorProto};
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            path: "<test>".into(),
            dir: None,
            limits: crate::files::ReadLimits::DEFAULT,
            bound: Default::default(),
        }
    }

    fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Float as i32),
            float_data: data,
            ..Default::default()
        }
    }

    fn ints_tensor(name: &str, data: Vec<i64>) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: vec![data.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            int64_data: data,
            ..Default::default()
        }
    }

    fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Ints as i32),
            ints: v.to_vec(),
            ..Default::default()
        }
    }

    fn int_attr(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Int as i32),
            i: Some(v),
            ..Default::default()
        }
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute,
            ..Default::default()
        }
    }

    /// `x` is [[0, 1, 2], [3, 4, 5]] (2×3).
    fn eval(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, name: &str) -> Result<Value> {
        let mut initializer = vec![tensor("x", &[2, 3], (0..6).map(|v| v as f32).collect())];
        initializer.extend(inits);
        let graph = GraphProto {
            node: nodes,
            initializer,
            ..Default::default()
        };
        let ctx = ctx();
        let mut f = Folder::new(&ctx, "test".into());
        f.eval(&[&graph], name)
    }

    fn floats(v: &Value) -> Vec<f64> {
        match &v.data {
            Data::Float(x) => x.clone(),
            Data::Int(x) => x.iter().map(|&i| i as f64).collect(),
        }
    }

    #[test]
    fn transpose_reshape_squeeze_in_both_forms() {
        let v = eval(vec![node("Transpose", &["x"], &["t"], vec![])], vec![], "t").unwrap();
        assert_eq!(
            (v.shape.clone(), floats(&v)),
            (vec![3, 2], vec![0., 3., 1., 4., 2., 5.])
        );
        // Reshape with 0 (copy) and -1 (infer).
        let v = eval(
            vec![node("Reshape", &["x", "s"], &["r"], vec![])],
            vec![ints_tensor("s", vec![0, -1, 1])],
            "r",
        )
        .unwrap();
        assert_eq!(v.shape, [2, 3, 1]);
        // Unsqueeze by attribute (opset < 13) and by input; Squeeze without axes drops every 1.
        let v = eval(
            vec![
                node("Unsqueeze", &["x"], &["u"], vec![ints_attr("axes", &[0, -1])]),
                node("Squeeze", &["u"], &["q"], vec![]),
            ],
            vec![],
            "u",
        )
        .unwrap();
        assert_eq!(v.shape, [1, 2, 3, 1]);
        let v = eval(
            vec![
                node("Unsqueeze", &["x", "a"], &["u"], vec![]),
                node("Squeeze", &["u"], &["q"], vec![]),
            ],
            vec![ints_tensor("a", vec![1])],
            "q",
        )
        .unwrap();
        assert_eq!(v.shape, [2, 3]);
        // Squeezing a dimension that is not 1 is an error.
        let e = eval(
            vec![node("Squeeze", &["x"], &["q"], vec![ints_attr("axes", &[0])])],
            vec![],
            "q",
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not 1"), "{e}");
    }

    #[test]
    fn slice_split_gather_concat_cast() {
        // Slice with a negative step over axis 1, inputs form: columns 2 and 1.
        let v = eval(
            vec![node("Slice", &["x", "s", "e", "a", "st"], &["y"], vec![])],
            vec![
                ints_tensor("s", vec![-1]),
                ints_tensor("e", vec![0]),
                ints_tensor("a", vec![1]),
                ints_tensor("st", vec![-1]),
            ],
            "y",
        )
        .unwrap();
        assert_eq!((v.shape.clone(), floats(&v)), (vec![2, 2], vec![2., 1., 5., 4.]));
        // Attribute form (opset < 10), ends past the edge clamp.
        let v = eval(
            vec![node(
                "Slice",
                &["x"],
                &["y"],
                vec![
                    ints_attr("starts", &[1]),
                    ints_attr("ends", &[i64::MAX]),
                    ints_attr("axes", &[1]),
                ],
            )],
            vec![],
            "y",
        )
        .unwrap();
        assert_eq!(floats(&v), [1., 2., 4., 5.]);
        // Split into equal parts (no sizes), second output.
        let v = eval(
            vec![node("Split", &["x"], &["p0", "p1"], vec![int_attr("axis", 0)])],
            vec![],
            "p1",
        )
        .unwrap();
        assert_eq!((v.shape.clone(), floats(&v)), (vec![1, 3], vec![3., 4., 5.]));
        // Gather with a negative index and 2-D indices.
        let v = eval(
            vec![node("Gather", &["x", "i"], &["g"], vec![int_attr("axis", 1)])],
            vec![TensorProto {
                name: Some("i".into()),
                dims: vec![1, 2],
                data_type: Some(DataType::Int64 as i32),
                int64_data: vec![-1, 0],
                ..Default::default()
            }],
            "g",
        )
        .unwrap();
        assert_eq!(
            (v.shape.clone(), floats(&v)),
            (vec![2, 1, 2], vec![2., 0., 5., 3.])
        );
        let e = eval(
            vec![node("Gather", &["x", "i"], &["g"], vec![])],
            vec![ints_tensor("i", vec![2])],
            "g",
        )
        .unwrap_err();
        assert!(e.to_string().contains("outside 0..2"), "{e}");
        // Concat along axis -1, then a cast to f16 rounds.
        let v = eval(
            vec![
                node("Concat", &["x", "x"], &["c"], vec![int_attr("axis", -1)]),
                node(
                    "Cast",
                    &["c"],
                    &["h"],
                    vec![int_attr("to", DataType::Float16 as i64)],
                ),
            ],
            vec![tensor("z", &[1], vec![0.1])],
            "h",
        )
        .unwrap();
        assert_eq!(v.shape, [2, 6]);
        let v = eval(
            vec![node(
                "Cast",
                &["z"],
                &["h"],
                vec![int_attr("to", DataType::Float16 as i64)],
            )],
            vec![tensor("z", &[1], vec![0.1])],
            "h",
        )
        .unwrap();
        assert_eq!(floats(&v), [half::f16::from_f32(0.1).to_f64()]);
    }

    #[test]
    fn typed_errors_name_the_node() {
        let e = eval(vec![node("Mul", &["x", "x"], &["m"], vec![])], vec![], "m").unwrap_err();
        assert!(
            matches!(
                e,
                crate::error::Error::Onnx {
                    problem: OnnxProblem::NotFoldable,
                    ..
                }
            ),
            "{e}"
        );
        let e = eval(
            vec![
                node("Identity", &["b"], &["a"], vec![]),
                node("Identity", &["a"], &["b"], vec![]),
            ],
            vec![],
            "a",
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                crate::error::Error::Onnx {
                    problem: OnnxProblem::Cycle,
                    ..
                }
            ),
            "{e}"
        );
        let e = eval(vec![], vec![], "nowhere").unwrap_err();
        assert!(
            matches!(
                e,
                crate::error::Error::Onnx {
                    problem: OnnxProblem::Missing,
                    ..
                }
            ),
            "{e}"
        );
        // Data that does not match its dims.
        let e = eval(vec![], vec![tensor("short", &[4], vec![1.0])], "short").unwrap_err();
        assert!(
            matches!(
                e,
                crate::error::Error::Onnx {
                    problem: OnnxProblem::Size,
                    ..
                }
            ),
            "{e}"
        );
    }
}
