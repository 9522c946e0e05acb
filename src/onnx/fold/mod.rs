//! Constant folding: the value of a name in a graph (and the graphs around it), computed from
//! initializers and `Constant` nodes through the ops exporters put between a weight and the
//! LSTM: Identity, Cast, Reshape, Squeeze, Unsqueeze, Transpose, Slice, Concat, Split and
//! Gather. Either form of each op is read (axes, starts and split sizes as inputs since opset
//! 10/13, or as attributes before). A graph input, an op outside this list, a missing name and a
//! cycle are typed errors naming the value and the node.

mod ops;

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
}

#[cfg(test)]
mod tests;
