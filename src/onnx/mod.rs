//! `.onnx` model files: the LSTM nodes of a model, found in its main graph and in the subgraphs
//! of `If`, `Loop` and `Scan` nodes (names resolve through the graphs around them), their
//! attributes as an [`LstmConfig`], and their weights as [`LstmWeights`], computed at load time
//! from initializers (inline, typed fields or external data), `Constant` nodes and the ops
//! exporters put in between (see `fold.rs`). Several nodes stack as layers.
//!
//! The protobuf types are generated from `proto/onnx.proto` (onnx 1.23.2, IR version 14) by
//! `scripts/gen-onnx-proto.sh` and committed, so builds need no `protoc`.

mod attributes;
mod fold;
mod layer;
mod quantized;

use attributes::attribute_text;
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub(crate) mod proto;
mod value;

use std::path::{Path, PathBuf};

use prost::Message;

use crate::activation::Activation;
use crate::cell::Cell;
use crate::config::{Direction, Layout, LstmConfig};
use crate::error::{Error, OnnxProblem, Result};
use crate::files::{read_regular, ReadLimits};
use crate::forward::State;
use crate::tensor::Tensor;
use crate::weights::{onnx_directions, LstmWeights};
use fold::{FoldState, Folder, Source};
use proto::{attribute_proto::AttributeType, GraphProto, ModelProto, NodeProto};
use value::Value;

/// The ONNX IR version the protobuf types were generated from.
pub const IR_VERSION: i64 = 14;

/// Where messages point, and where external data is read from.
pub(crate) struct Ctx {
    path: PathBuf,
    dir: Option<PathBuf>,
    limits: ReadLimits,
    /// Graph inputs given values by the caller ([`OnnxModel::bind_input`]).
    bound: std::collections::HashMap<String, Value>,
}

impl Ctx {
    /// An error about the model; what the message quotes from the file is escaped
    /// ([`escape_text`](crate::error::escape_text)), so it stays one line.
    fn error(&self, problem: OnnxProblem, message: impl Into<String>) -> Error {
        let message = message.into();
        Error::Onnx {
            path: self.path.clone(),
            problem,
            message: crate::error::escape_text(&message).into_owned(),
        }
    }
}

/// The folder a file is in (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether a node is in the default ONNX domain, under either of its spellings.
fn default_domain(node: &NodeProto) -> bool {
    matches!(node.domain.as_deref().unwrap_or(""), "" | "ai.onnx")
}

/// Whether the first bytes of a file of `size` bytes have a `.safetensors` file's structure: an
/// 8-byte little-endian header length that the file holds, then the header's `{`. Anything else
/// is read as `.onnx` (a protobuf has no such prefix; a model whose producer name happens to put
/// `{` at byte 8 does not make its first 8 bytes a length it holds).
fn safetensors_structure(head: &[u8], size: u64) -> bool {
    let Some(length) = head
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    else {
        return false;
    };
    head.get(8) == Some(&b'{') && length >= 2 && length <= size.saturating_sub(8)
}

/// Whether `bytes` (a whole file) are an `.onnx` model rather than `.safetensors`: they lack
/// the safetensors structure (a header length the file holds, then `{`).
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    !bytes.is_empty() && !safetensors_structure(bytes, bytes.len() as u64)
}

/// Whether the file at `path` is an `.onnx` model rather than `.safetensors`, from its first
/// bytes and its size ([`looks_like_onnx`]); only a regular file within `limits` is opened, and
/// an empty file is an error naming it as empty.
pub fn is_onnx_file(path: &Path, limits: ReadLimits) -> Result<bool> {
    use std::io::Read;
    let (file, size) = crate::files::open_regular(path, limits)?;
    if size == 0 {
        return Err(Error::format(
            path,
            "the file is empty: neither a .safetensors file nor an .onnx model",
        ));
    }
    let mut head = Vec::with_capacity(16);
    file.take(16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    Ok(!safetensors_structure(&head, size))
}

/// A serialized `TensorProto` (the `.pb` files of the ONNX backend tests): its name and its
/// values as f32 (integers converted).
pub fn tensor_from_protobuf(bytes: &[u8]) -> Result<(String, Tensor)> {
    let ctx = Ctx {
        path: "<TensorProto>".into(),
        dir: None,
        limits: ReadLimits::DEFAULT,
        bound: Default::default(),
    };
    let t = proto::TensorProto::decode(bytes).map_err(|e| {
        ctx.error(
            OnnxProblem::Protobuf,
            format!("the TensorProto does not decode: {e}"),
        )
    })?;
    let name = t.name.clone().unwrap_or_default();
    let v = value::decode(&ctx, &t, &format!("tensor '{name}'"))?;
    let data = match v.data {
        value::Data::Float(x) => x.into_iter().map(|x| x as f32).collect(),
        value::Data::Int(x) => x.into_iter().map(|x| x as f32).collect(),
    };
    Ok((name, Tensor::new(v.shape, data)?))
}

/// A parsed `.onnx` model.
pub struct OnnxModel {
    model: ModelProto,
    ctx: Ctx,
    /// What folding keeps between the nodes of this model: one name index per graph, every
    /// value computed once, one budget.
    fold: std::sync::Mutex<FoldState>,
}

/// Where one of a node's runtime inputs (X, sequence_lens, initial_h, initial_c) comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum InputSource {
    /// Not given (`''` or missing): zeros for a state, full length for sequence_lens.
    Absent,
    /// A graph input: supplied when the model runs (`--h0`, `--c0`, `--seq-lens`, `--input`).
    GraphInput(String),
    /// Computed when the model runs (by the named node).
    Computed(String),
    /// A constant in the model, of this shape: used unless the caller supplies the input.
    Constant(Vec<usize>),
    /// A constant in the model that fails to load, and why.
    Unloadable(String),
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Absent => f.write_str("absent"),
            InputSource::GraphInput(name) => write!(f, "graph input '{name}'"),
            InputSource::Computed(by) => write!(f, "computed at run time ({by})"),
            InputSource::Constant(shape) => write!(f, "constant {shape:?}"),
            InputSource::Unloadable(why) => write!(f, "constant, but it fails to load: {why}"),
        }
    }
}

/// An LSTM node as [`OnnxModel::lstm_nodes`] lists it.
#[derive(Clone, Debug)]
pub struct LstmNode {
    /// The node's name (an unnamed node goes by its first output).
    pub name: String,
    /// The nodes and graph attributes enclosing it, outermost first (`If_0.else_branch`);
    /// empty in the main graph.
    pub path: Vec<String>,
    /// Its attributes as a configuration (layers 1, sizes from the weights where they resolve),
    /// or why they cannot be one.
    pub config: std::result::Result<LstmConfig, String>,
    /// The attributes as written in the model.
    pub attributes: Vec<(String, String)>,
    /// `[D, 4H, I]` of W where it resolves.
    pub input_size: Option<usize>,
    /// Whether W, R, B and P resolve to constants, or why not.
    pub weights: std::result::Result<(), String>,
    /// X, sequence_lens, initial_h and initial_c, with where each comes from.
    pub inputs: Vec<(&'static str, InputSource)>,
    /// For onnxruntime's `DynamicQuantizeLSTM`: its weights' element types and the granularity
    /// of their scales (`W int8 per output channel, R int8 per direction`).
    pub quantization: Option<String>,
    /// The names of its outputs Y, Y_h and Y_c (`""` where not produced).
    pub outputs: [String; 3],
}

impl LstmNode {
    /// `path/…/name`: unique within a model.
    pub fn qualified_name(&self) -> String {
        let mut parts = self.path.clone();
        parts.push(self.name.clone());
        parts.join("/")
    }
}

/// The LSTM of one or more nodes, ready for either engine.
#[derive(Clone, Debug)]
pub struct OnnxLstm {
    /// Every attribute of the nodes, with one layer per node.
    pub config: LstmConfig,
    pub weights: LstmWeights,
    /// The nodes, as layers 0, 1, ….
    pub nodes: Vec<String>,
    /// initial_h and initial_c where the model holds them as constants (in the engine's
    /// `[L·D, B, P]`); `None` where they are absent or supplied at run time.
    pub initial: Option<State>,
    /// sequence_lens where the model holds it as a constant.
    pub seq_lens: Option<Vec<usize>>,
}

/// A node found in a graph, with the graphs it sits in (outermost first).
struct Found<'m> {
    chain: Vec<&'m GraphProto>,
    node: &'m NodeProto,
    path: Vec<String>,
}

/// onnxruntime's LSTM with int8 or uint8 W and R (domain `com.microsoft`).
pub(crate) const QUANTIZED_LSTM: &str = "DynamicQuantizeLSTM";

/// Whether a node is onnxruntime's [`QUANTIZED_LSTM`].
fn quantized(node: &NodeProto) -> bool {
    node.op_type.as_deref() == Some(QUANTIZED_LSTM) && node.domain.as_deref() == Some("com.microsoft")
}

/// The cell of an ONNX `LSTM`, `GRU` or `RNN` node of the default domain, or of onnxruntime's
/// quantized LSTM.
pub(crate) fn cell_of(node: &NodeProto) -> Option<Cell> {
    if quantized(node) {
        return Some(Cell::Lstm);
    }
    let op = node.op_type.as_deref()?;
    Cell::ALL
        .into_iter()
        .find(|c| c.onnx_op() == op)
        .filter(|_| default_domain(node))
}

/// The operator of a found node, for messages.
fn op_of(node: &NodeProto) -> &'static str {
    if quantized(node) {
        return QUANTIZED_LSTM;
    }
    cell_of(node).unwrap_or_default().onnx_op()
}

/// Whether a node's operator looks recurrent (LSTM, GRU or RNN in its name, in any domain) but
/// is none the engine reads: named in messages rather than left out of them.
fn other_recurrent(node: &NodeProto) -> bool {
    let op = node.op_type.as_deref().unwrap_or("").to_ascii_uppercase();
    cell_of(node).is_none() && ["LSTM", "GRU", "RNN"].iter().any(|r| op.contains(r))
}

fn collect<'m>(
    graph: &'m GraphProto,
    chain: &mut Vec<&'m GraphProto>,
    path: &mut Vec<String>,
    out: &mut Vec<Found<'m>>,
) {
    chain.push(graph);
    for node in &graph.node {
        if cell_of(node).is_some() {
            out.push(Found {
                chain: chain.clone(),
                node,
                path: path.clone(),
            });
        }
        for a in &node.attribute {
            let subgraphs: Vec<&GraphProto> = a.g.iter().chain(&a.graphs).collect();
            for (i, g) in subgraphs.iter().enumerate() {
                let label = if subgraphs.len() > 1 {
                    format!("{}.{}[{i}]", node_name(node), a.name.as_deref().unwrap_or(""))
                } else {
                    format!("{}.{}", node_name(node), a.name.as_deref().unwrap_or(""))
                };
                path.push(label);
                collect(g, chain, path, out);
                path.pop();
            }
        }
    }
    chain.pop();
}

/// A node's name, or its first output for an unnamed node.
fn node_name(node: &NodeProto) -> String {
    match node.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => node
            .output
            .iter()
            .find(|o| !o.is_empty())
            .cloned()
            .unwrap_or_default(),
    }
}

impl OnnxModel {
    /// Parse the model at `path` within the default [`ReadLimits`]; external data is read from
    /// the model's folder.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, ReadLimits::DEFAULT)
    }

    /// [`OnnxModel::open`] within `limits` (the model and each external data file).
    pub fn open_with(path: &Path, limits: ReadLimits) -> Result<Self> {
        let bytes = read_regular(path, limits)?;
        Self::parse(&bytes, path.to_path_buf(), Some(folder_of(path)), limits)
    }

    /// Parse model bytes; external data is read from `dir` (refused without one).
    pub fn from_bytes(bytes: &[u8], dir: Option<&Path>) -> Result<Self> {
        Self::parse(
            bytes,
            "<onnx>".into(),
            dir.map(Path::to_path_buf),
            ReadLimits::DEFAULT,
        )
    }

    pub(crate) fn parse(
        bytes: &[u8],
        path: PathBuf,
        dir: Option<PathBuf>,
        limits: ReadLimits,
    ) -> Result<Self> {
        let ctx = Ctx {
            path,
            dir,
            limits,
            bound: Default::default(),
        };
        let model = ModelProto::decode(bytes).map_err(|e| {
            ctx.error(
                OnnxProblem::Protobuf,
                format!("the protobuf does not decode: {e}"),
            )
        })?;
        if model.graph.is_none() {
            return Err(ctx.error(OnnxProblem::Protobuf, "the model has no graph"));
        }
        Ok(OnnxModel {
            model,
            ctx,
            fold: Default::default(),
        })
    }

    /// Give the graph input `name` a value, so that weights computed from it resolve (for
    /// models that take their weights as inputs, as the ONNX backend tests do).
    /// The value of `name` seen from `chain`, folded with the model's shared state (`what` names
    /// it in messages).
    pub(crate) fn fold(
        &self,
        what: String,
        chain: &[&GraphProto],
        name: &str,
    ) -> Result<std::sync::Arc<Value>> {
        let mut state = self.fold.lock().unwrap_or_else(|e| e.into_inner());
        Folder::new(&self.ctx, &mut state, what).eval(chain, name)
    }

    pub fn bind_input(&mut self, name: &str, value: &Tensor) -> Result<()> {
        let graph = self.model.graph.as_ref().expect("checked at parse");
        if !graph.input.iter().any(|i| i.name.as_deref() == Some(name)) {
            return Err(self.ctx.error(
                OnnxProblem::Missing,
                format!("the model has no graph input '{name}'"),
            ));
        }
        self.fold
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .forget_values();
        self.ctx.bound.insert(
            name.to_string(),
            Value {
                shape: value.shape().to_vec(),
                data: value::Data::Float(value.data().iter().map(|&x| x as f64).collect()),
            },
        );
        Ok(())
    }

    /// The model's IR version.
    pub fn ir_version(&self) -> i64 {
        self.model.ir_version.unwrap_or(0)
    }

    /// The version of the default operator set the model imports.
    pub fn opset(&self) -> Option<i64> {
        self.model
            .opset_import
            .iter()
            .find(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
            .and_then(|o| o.version)
    }

    /// The producer's name and version, as the model records them.
    pub fn producer(&self) -> String {
        format!(
            "{} {}",
            self.model.producer_name.as_deref().unwrap_or(""),
            self.model.producer_version.as_deref().unwrap_or("")
        )
        .trim()
        .to_string()
    }

    fn found(&self) -> Vec<Found<'_>> {
        let mut out = Vec::new();
        let graph = self.model.graph.as_ref().expect("checked at parse");
        collect(graph, &mut Vec::new(), &mut Vec::new(), &mut out);
        out
    }

    /// Every LSTM node, in the main graph and in subgraphs, in the order they appear.
    pub fn lstm_nodes(&self) -> Vec<LstmNode> {
        self.found().iter().map(|f| self.describe(f)).collect()
    }

    fn describe(&self, f: &Found<'_>) -> LstmNode {
        let name = node_name(f.node);
        let attributes = f
            .node
            .attribute
            .iter()
            .map(|a| (a.name.clone().unwrap_or_default(), attribute_text(a)))
            .collect();
        let layer = self.layer_checked(f);
        let input_size = layer.as_ref().ok().map(|l| l.input_size);
        let config = match &layer {
            Ok(l) => Ok(l.config.clone()),
            Err(_) => self
                .attributes(f)
                .and_then(|a| self.config_without_weights(&a))
                .map_err(|e| e.to_string()),
        };
        let weights = layer.map(|_| ()).map_err(|e| e.to_string());
        // initial_c is the LSTM's alone.
        let roles = if cell_of(f.node) == Some(Cell::Lstm) { 4 } else { 3 };
        let inputs = ["X", "sequence_lens", "initial_h", "initial_c"]
            .into_iter()
            .zip([0, 4, 5, 6])
            .take(roles)
            .map(|(role, i)| (role, self.source(f, i)))
            .collect();
        let output = |i: usize| f.node.output.get(i).cloned().unwrap_or_default();
        LstmNode {
            name,
            path: f.path.clone(),
            config,
            attributes,
            input_size,
            weights,
            inputs,
            outputs: [output(0), output(1), output(2)],
            quantization: quantized(f.node).then(|| self.quantization(f)),
        }
    }

    /// Nodes whose operator looks recurrent but is none the engine reads, as
    /// `op node 'name' (domain)`, for messages and `info`.
    pub fn other_recurrent_nodes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let graph = self.model.graph.as_ref().expect("checked at parse");
        let mut stack = vec![graph];
        while let Some(g) = stack.pop() {
            for node in &g.node {
                if other_recurrent(node) {
                    let domain = node
                        .domain
                        .as_deref()
                        .filter(|d| !d.is_empty())
                        .unwrap_or("ai.onnx");
                    out.push(format!(
                        "{} node '{}' ({domain})",
                        node.op_type.as_deref().unwrap_or(""),
                        node_name(node)
                    ));
                }
                for a in &node.attribute {
                    stack.extend(a.g.iter().chain(&a.graphs));
                }
            }
        }
        out
    }

    /// Where input `i` of the node comes from.
    fn source(&self, f: &Found<'_>, i: usize) -> InputSource {
        let Some(name) = f.node.input.get(i).filter(|n| !n.is_empty()) else {
            return InputSource::Absent;
        };
        let source = self
            .fold
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(&f.chain, name);
        match source {
            Some(Source::Input) => InputSource::GraphInput(name.clone()),
            source => match self.fold(String::new(), &f.chain, name) {
                Ok(v) => InputSource::Constant(v.shape.clone()),
                Err(
                    e @ Error::Onnx {
                        problem:
                            OnnxProblem::Size
                            | OnnxProblem::Missing
                            | OnnxProblem::ExternalData
                            | OnnxProblem::Unsupported
                            | OnnxProblem::Cycle,
                        ..
                    },
                ) => InputSource::Unloadable(e.to_string()),
                Err(_) => InputSource::Computed(match source {
                    Some(Source::Node { node, .. }) => format!(
                        "by {} node '{}'",
                        node.op_type.as_deref().unwrap_or("?"),
                        node_name(node)
                    ),
                    _ => format!("'{name}'"),
                }),
            },
        }
    }
}
