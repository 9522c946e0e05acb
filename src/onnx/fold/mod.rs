//! Constant folding: the value of a name in a graph (and the graphs around it), computed from
//! initializers and `Constant` nodes through the ops exporters put between a weight and the
//! LSTM: Identity, Cast, Reshape, Squeeze, Unsqueeze, Transpose, Slice, Concat, Split and
//! Gather. Either form of each op is read (axes, starts and split sizes as inputs since opset
//! 10/13, or as attributes before). A graph input, an op outside this list, a missing name and a
//! cycle are typed errors naming the value and the node.

mod ops;
mod select;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::proto::{
    attribute_proto::AttributeType, tensor_proto, AttributeProto, GraphProto, NodeProto, SparseTensorProto,
    TensorProto,
};
use super::value::{decode, dims, elements, external_region, Data, Value};
use super::Ctx;
use crate::error::{OnnxProblem, Result};

/// Where a name is defined, found from the innermost graph outwards.
pub(crate) enum Source<'m> {
    Initializer(&'m TensorProto),
    /// A sparse initializer, read densified.
    Sparse(&'m SparseTensorProto),
    /// Output `index` of a node of the graph at `scope` (an index into the chain).
    Node {
        node: &'m NodeProto,
        index: usize,
        scope: usize,
    },
    /// A graph input without an initializer: known only when the model runs.
    Input,
}

/// A name's definition in one graph: an initializer (which wins over a graph input of the same
/// name, the form older exporters use for weights), else the first node that outputs it, else a
/// graph input.
#[derive(Clone, Copy, Debug)]
enum Def {
    Initializer(usize),
    Sparse(usize),
    Node { node: usize, output: usize },
    Input,
}

/// Every name a graph defines, indexed once: lookups cost the same for a million names.
type Index = HashMap<String, Def>;

fn index(graph: &GraphProto) -> Index {
    let mut index = Index::new();
    for input in &graph.input {
        if let Some(name) = &input.name {
            index.insert(name.clone(), Def::Input);
        }
    }
    for (n, node) in graph.node.iter().enumerate().rev() {
        for (output, name) in node.output.iter().enumerate() {
            index.insert(name.clone(), Def::Node { node: n, output });
        }
    }
    for (i, s) in graph.sparse_initializer.iter().enumerate().rev() {
        if let Some(name) = s.values.as_ref().and_then(|v| v.name.as_ref()) {
            index.insert(name.clone(), Def::Sparse(i));
        }
    }
    for (i, t) in graph.initializer.iter().enumerate().rev() {
        if let Some(name) = &t.name {
            index.insert(name.clone(), Def::Initializer(i));
        }
    }
    index
}

/// What `name` is in `chain` (outermost graph first), through `indexes` (built on first use),
/// and the scope that defines it.
fn find<'m>(
    indexes: &mut HashMap<usize, Index>,
    chain: &[&'m GraphProto],
    name: &str,
) -> Option<(Source<'m>, usize)> {
    for (scope, graph) in chain.iter().enumerate().rev() {
        let index = indexes
            .entry(*graph as *const GraphProto as usize)
            .or_insert_with(|| index(graph));
        match index.get(name) {
            Some(Def::Initializer(i)) => return Some((Source::Initializer(&graph.initializer[*i]), scope)),
            Some(Def::Sparse(i)) => return Some((Source::Sparse(&graph.sparse_initializer[*i]), scope)),
            Some(Def::Node { node, output }) => {
                return Some((
                    Source::Node {
                        node: &graph.node[*node],
                        index: *output,
                        scope,
                    },
                    scope,
                ))
            }
            Some(Def::Input) => return Some((Source::Input, scope)),
            None => {}
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

/// Whether the loader evaluates `node`: an op of [`FOLDABLE`] in the default domain.
fn node_is_foldable(node: &NodeProto) -> bool {
    super::default_domain(node) && FOLDABLE.contains(&node.op_type.as_deref().unwrap_or(""))
}

/// The most nodes one evaluation walks through.
const MAX_STEPS: usize = 100_000;

/// The largest rank of a folded value.
pub(crate) const MAX_RANK: usize = 64;

/// A value's key: the graph that defines its name, and the name.
type Key = (usize, String);

/// What folding keeps between evaluations of one model: the graphs' name indexes, every value
/// computed (shared, so that a chain of `Identity` nodes holds one copy), and the bytes of
/// values computed so far, held to `ReadLimits::max_folded_bytes`.
#[derive(Default)]
pub(crate) struct FoldState {
    indexes: HashMap<usize, Index>,
    memo: HashMap<Key, Arc<Value>>,
    bytes: u64,
    /// The external data regions (location, offset, length) read so far.
    regions: HashSet<(String, u64, Option<u64>)>,
}

impl FoldState {
    /// What `name` is in `chain` (outermost graph first), through the indexes folding keeps.
    pub fn lookup<'m>(&mut self, chain: &[&'m GraphProto], name: &str) -> Option<Source<'m>> {
        find(&mut self.indexes, chain, name).map(|(source, _)| source)
    }

    /// Forget the values (a graph input got a value), keeping the indexes.
    pub fn forget_values(&mut self) {
        self.memo.clear();
        self.bytes = 0;
        self.regions.clear();
    }
}

pub(crate) struct Folder<'a> {
    ctx: &'a Ctx,
    state: &'a mut FoldState,
    /// What is being resolved, for messages ("W of LSTM node 'x'").
    what: String,
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

/// One name to evaluate: `name` as seen from the first `len` graphs of the chain.
struct Pending {
    len: usize,
    name: String,
    /// Whether its node's inputs have been asked for already.
    expanded: bool,
}

impl<'a> Folder<'a> {
    pub fn new(ctx: &'a Ctx, state: &'a mut FoldState, what: String) -> Self {
        Folder {
            ctx,
            state,
            what,
            steps: 0,
        }
    }

    fn error(&self, problem: OnnxProblem, message: String) -> crate::error::Error {
        self.ctx.error(problem, format!("{}: {message}", self.what))
    }

    /// A tensor of the file decoded. What it holds inline is bounded by the file (8 bytes an
    /// element of at least one byte), as is each region of external data read the first time;
    /// a region read again (a model naming one file many times) counts against the budget.
    pub(super) fn decode_tensor(&mut self, t: &TensorProto, what: &str) -> Result<Value> {
        if let Some(region) = external_region(t) {
            if !self.state.regions.insert(region) {
                let n = elements(self.ctx, what, &dims(self.ctx, t, what)?)?;
                self.charge(n, what)?;
            }
        }
        decode(self.ctx, t, what)
    }

    /// Count `elements` 8-byte elements against the folding budget, before they are allocated.
    pub(super) fn charge(&mut self, elements: usize, label: &str) -> Result<()> {
        let limit = self.ctx.limits.max_folded_bytes;
        let total = (elements as u64)
            .checked_mul(8)
            .and_then(|b| b.checked_add(self.state.bytes))
            .filter(|&t| t <= limit);
        match total {
            Some(t) => {
                self.state.bytes = t;
                Ok(())
            }
            None => Err(self.error(
                OnnxProblem::Size,
                format!(
                    "{label} would take the values folded from the model's constants past {limit} bytes \
                     ({elements} more elements after {} bytes; raise it with --max-folded-bytes, \
                     max_folded_bytes in the library and in Python)",
                    self.state.bytes
                ),
            )),
        }
    }

    /// The value of `name` seen from the innermost graph of `chain`. Evaluation walks the graph
    /// with an explicit stack (a chain of any length cannot overflow the thread's stack),
    /// computing each node once its inputs are known.
    pub fn eval(&mut self, chain: &[&GraphProto], name: &str) -> Result<Arc<Value>> {
        let mut stack = vec![Pending {
            len: chain.len(),
            name: name.to_string(),
            expanded: false,
        }];
        let mut on_path: HashSet<Key> = HashSet::new();
        let mut result = None;
        while let Some(top) = stack.last_mut() {
            let view = &chain[..top.len];
            let found = find(&mut self.state.indexes, view, &top.name);
            let key: Key = match &found {
                Some((_, scope)) => (chain[*scope] as *const GraphProto as usize, top.name.clone()),
                None => (0, top.name.clone()),
            };
            if let Some(v) = self.state.memo.get(&key) {
                result = Some(v.clone());
                on_path.remove(&key);
                stack.pop();
                continue;
            }
            let value: Arc<Value> = match found {
                None => {
                    return Err(self.error(
                        OnnxProblem::Missing,
                        format!(
                            "'{}' is neither an initializer, a node's output nor a graph input",
                            top.name
                        ),
                    ))
                }
                Some((Source::Sparse(s), _)) => {
                    let what = format!("sparse initializer '{}'", top.name);
                    Arc::new(self.densify(s, &what)?)
                }
                Some((Source::Input, _)) => match self.ctx.bound.get(&top.name) {
                    Some(v) => Arc::new(v.clone()),
                    None => {
                        return Err(self.error(
                            OnnxProblem::NotConstant,
                            format!("'{}' is a graph input, known only when the model runs", top.name),
                        ))
                    }
                },
                Some((Source::Initializer(t), _)) => {
                    let what = format!("initializer '{}'", top.name);
                    Arc::new(self.decode_tensor(t, &what)?)
                }
                Some((Source::Node { node, index, scope }, _)) => {
                    if !top.expanded {
                        top.expanded = true;
                        self.steps += 1;
                        if self.steps > MAX_STEPS {
                            return Err(self.error(
                                OnnxProblem::Unsupported,
                                format!("more than {MAX_STEPS} nodes to evaluate"),
                            ));
                        }
                        if !on_path.insert(key.clone()) {
                            return Err(
                                self.error(OnnxProblem::Cycle, format!("'{}' depends on itself", top.name))
                            );
                        }
                        let inputs: Vec<Pending> = node
                            .input
                            .iter()
                            .filter(|i| !i.is_empty())
                            .map(|i| Pending {
                                len: scope + 1,
                                name: i.clone(),
                                expanded: false,
                            })
                            .collect();
                        if node_is_foldable(node) {
                            stack.extend(inputs);
                        }
                        continue;
                    }
                    // Every input is known now (or the node is refused before reading one).
                    let value = self.node(&chain[..=scope], node, index)?;
                    on_path.remove(&key);
                    value
                }
            };
            self.state.memo.insert(key, value.clone());
            result = Some(value);
            stack.pop();
        }
        Ok(result.expect("the stack started with the name"))
    }

    /// Input `i` of `node`, or `None` where it is absent or `''` (already evaluated: `eval`
    /// computes a node's inputs before the node).
    fn input(&mut self, chain: &[&GraphProto], node: &NodeProto, i: usize) -> Result<Option<Arc<Value>>> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self.eval(chain, name).map(Some),
        }
    }

    fn required(&mut self, chain: &[&GraphProto], node: &NodeProto, i: usize) -> Result<Arc<Value>> {
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
mod hostile_tests;
#[cfg(test)]
mod tests;
