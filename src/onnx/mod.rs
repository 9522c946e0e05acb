//! `.onnx` model files: the LSTM nodes of a model, found in its main graph and in the subgraphs
//! of `If`, `Loop` and `Scan` nodes (names resolve through the graphs around them), their
//! attributes as an [`LstmConfig`], and their weights as [`LstmWeights`], computed at load time
//! from initializers (inline, typed fields or external data), `Constant` nodes and the ops
//! exporters put in between (see `fold.rs`). Several nodes stack as layers.
//!
//! The protobuf types are generated from `proto/onnx.proto` (onnx 1.23.2, IR version 14) by
//! `scripts/gen-onnx-proto.sh` and committed, so builds need no `protoc`.

mod fold;
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub(crate) mod proto;
mod value;

use std::path::{Path, PathBuf};

use prost::Message;

use crate::activation::Activation;
use crate::config::{Direction, Layout, LstmConfig};
use crate::error::{Error, OnnxProblem, Result};
use crate::files::{read_regular, ReadLimits};
use crate::forward::State;
use crate::tensor::Tensor;
use crate::weights::{onnx_directions, LstmWeights};
use fold::{lookup, Folder, Source};
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
    fn error(&self, problem: OnnxProblem, message: impl Into<String>) -> Error {
        Error::Onnx {
            path: self.path.clone(),
            problem,
            message: message.into(),
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

/// Whether `bytes` look like an `.onnx` model rather than `.safetensors`: a safetensors file
/// starts with its header's length and then `{`.
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    let safetensors = bytes.len() > 8 && bytes[8] == b'{';
    !safetensors && !bytes.is_empty()
}

/// Whether the file at `path` is an `.onnx` model rather than `.safetensors`, from its first
/// bytes ([`looks_like_onnx`]); only a regular file within `limits` is opened.
pub fn is_onnx_file(path: &Path, limits: ReadLimits) -> Result<bool> {
    use std::io::Read;
    let (file, _) = crate::files::open_regular(path, limits)?;
    let mut head = Vec::with_capacity(16);
    file.take(16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    Ok(looks_like_onnx(&head))
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
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Absent => f.write_str("absent"),
            InputSource::GraphInput(name) => write!(f, "graph input '{name}'"),
            InputSource::Computed(by) => write!(f, "computed at run time ({by})"),
            InputSource::Constant(shape) => write!(f, "constant {shape:?}"),
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

fn collect<'m>(
    graph: &'m GraphProto,
    chain: &mut Vec<&'m GraphProto>,
    path: &mut Vec<String>,
    out: &mut Vec<Found<'m>>,
) {
    chain.push(graph);
    for node in &graph.node {
        if node.op_type.as_deref() == Some("LSTM") && node.domain.as_deref().unwrap_or("").is_empty() {
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

/// The attributes LSTM defines.
const LSTM_ATTRIBUTES: [&str; 8] = [
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "input_forget",
    "layout",
];

/// The LSTM attributes of a node, read into the parts of a configuration.
struct Attributes {
    direction: Direction,
    hidden_size: Option<usize>,
    activations: Vec<String>,
    alphas: Vec<f32>,
    betas: Vec<f32>,
    clip: Option<f32>,
    input_forget: bool,
    layout: Layout,
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
        Ok(OnnxModel { model, ctx })
    }

    /// Give the graph input `name` a value, so that weights computed from it resolve (for
    /// models that take their weights as inputs, as the ONNX backend tests do).
    pub fn bind_input(&mut self, name: &str, value: &Tensor) -> Result<()> {
        let graph = self.model.graph.as_ref().expect("checked at parse");
        if !graph.input.iter().any(|i| i.name.as_deref() == Some(name)) {
            return Err(self.ctx.error(
                OnnxProblem::Missing,
                format!("the model has no graph input '{name}'"),
            ));
        }
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
        let layer = self.layer(f);
        let input_size = layer.as_ref().ok().map(|l| l.input_size);
        let config = match &layer {
            Ok(l) => Ok(l.config.clone()),
            Err(_) => self
                .attributes(f)
                .and_then(|a| self.config_without_weights(&a))
                .map_err(|e| e.to_string()),
        };
        let weights = layer.map(|_| ()).map_err(|e| e.to_string());
        let inputs = ["X", "sequence_lens", "initial_h", "initial_c"]
            .into_iter()
            .zip([0, 4, 5, 6])
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
        }
    }

    /// Where input `i` of the node comes from.
    fn source(&self, f: &Found<'_>, i: usize) -> InputSource {
        let Some(name) = f.node.input.get(i).filter(|n| !n.is_empty()) else {
            return InputSource::Absent;
        };
        match lookup(&f.chain, name) {
            Some(Source::Input) => InputSource::GraphInput(name.clone()),
            source => match Folder::new(&self.ctx, String::new()).eval(&f.chain, name) {
                Ok(v) => InputSource::Constant(v.shape),
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

    fn attributes(&self, f: &Found<'_>) -> Result<Attributes> {
        let label = node_name(f.node);
        let err = |message: String| {
            self.ctx.error(
                OnnxProblem::Unsupported,
                format!("LSTM node '{label}': {message}"),
            )
        };
        let mut a = Attributes {
            direction: Direction::Forward,
            hidden_size: None,
            activations: Vec::new(),
            alphas: Vec::new(),
            betas: Vec::new(),
            clip: None,
            input_forget: false,
            layout: Layout::SeqMajor,
        };
        for attr in &f.node.attribute {
            let name = attr.name.as_deref().unwrap_or("");
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            match name {
                "direction" => {
                    a.direction = match attr.s.as_deref().map(text).as_deref() {
                        Some("forward") => Direction::Forward,
                        Some("reverse") => Direction::Reverse,
                        Some("bidirectional") => Direction::Bidirectional,
                        other => return Err(err(format!("direction {other:?}"))),
                    }
                }
                "hidden_size" => {
                    let h = attr.i.unwrap_or(0);
                    if h <= 0 {
                        return Err(err(format!("hidden_size {h}")));
                    }
                    a.hidden_size = Some(h as usize);
                }
                "activations" => a.activations = attr.strings.iter().map(|s| text(s)).collect(),
                "activation_alpha" => a.alphas = attr.floats.clone(),
                "activation_beta" => a.betas = attr.floats.clone(),
                "clip" => a.clip = attr.f,
                "input_forget" => a.input_forget = attr.i.unwrap_or(0) != 0,
                "layout" => {
                    a.layout = match attr.i.unwrap_or(0) {
                        0 => Layout::SeqMajor,
                        1 => Layout::BatchMajor,
                        other => return Err(err(format!("layout {other}"))),
                    }
                }
                other => {
                    return Err(err(format!(
                        "attribute '{other}' (LSTM has {})",
                        LSTM_ATTRIBUTES.join(", ")
                    )))
                }
            }
        }
        Ok(a)
    }

    /// The options of a configuration from attributes alone (sizes unknown: 1).
    fn config_without_weights(&self, a: &Attributes) -> Result<LstmConfig> {
        let mut config = LstmConfig {
            input_size: 1,
            hidden_size: a.hidden_size.unwrap_or(1),
            direction: a.direction,
            layout: a.layout,
            ..LstmConfig::default()
        };
        self.apply_options(a, &mut config)?;
        Ok(config)
    }

    fn apply_options(&self, a: &Attributes, config: &mut LstmConfig) -> Result<()> {
        config.clip = a.clip;
        config.input_forget = a.input_forget;
        if !a.activations.is_empty() || !a.alphas.is_empty() || !a.betas.is_empty() {
            let names = if a.activations.is_empty() {
                ["Sigmoid", "Tanh", "Tanh"]
                    .repeat(config.num_directions())
                    .into_iter()
                    .map(String::from)
                    .collect()
            } else {
                a.activations.clone()
            };
            config.activations = Activation::parse_list(&names, &a.alphas, &a.betas, config.num_directions())
                .map_err(|e| self.ctx.error(OnnxProblem::Unsupported, e.to_string()))?;
        }
        config
            .validate()
            .map_err(|e| self.ctx.error(OnnxProblem::Unsupported, e.to_string()))
    }

    /// One node as a one-layer LSTM.
    fn layer(&self, f: &Found<'_>) -> Result<Layer> {
        let label = node_name(f.node);
        let a = self.attributes(f)?;
        let d = a.direction.num_directions();
        let weight = |i: usize, role: &str| -> Result<Option<Value>> {
            match f.node.input.get(i).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(name) => Folder::new(&self.ctx, format!("{role} of LSTM node '{label}'"))
                    .eval(&f.chain, name)
                    .map(Some),
            }
        };
        let size_err = |message: String| {
            self.ctx
                .error(OnnxProblem::Size, format!("LSTM node '{label}': {message}"))
        };
        let w = weight(1, "W")?.ok_or_else(|| size_err("has no W".into()))?;
        let r = weight(2, "R")?.ok_or_else(|| size_err("has no R".into()))?;
        let h = match (a.hidden_size, r.shape.as_slice()) {
            (Some(h), _) => h,
            (None, [_, _, h]) => *h,
            _ => {
                return Err(size_err(format!(
                    "R has shape {:?}, expected [D, 4H, H]",
                    r.shape
                )))
            }
        };
        if r.shape != [d, 4 * h, h] {
            return Err(size_err(format!(
                "R has shape {:?}; direction and hidden_size {h} need [{d}, {}, {h}]",
                r.shape,
                4 * h
            )));
        }
        let input = match w.shape.as_slice() {
            [wd, g, i] if *wd == d && *g == 4 * h && *i > 0 => *i,
            _ => {
                return Err(size_err(format!(
                    "W has shape {:?}; direction and hidden_size {h} need [{d}, {}, I]",
                    w.shape,
                    4 * h
                )))
            }
        };
        let b = weight(3, "B")?;
        if let Some(b) = &b {
            if b.shape != [d, 8 * h] {
                return Err(size_err(format!(
                    "B has shape {:?}, expected [{d}, {}]",
                    b.shape,
                    8 * h
                )));
            }
        }
        let p = weight(7, "P")?;
        if let Some(p) = &p {
            if p.shape != [d, 3 * h] {
                return Err(size_err(format!(
                    "P has shape {:?}, expected [{d}, {}]",
                    p.shape,
                    3 * h
                )));
            }
        }
        let floats = |v: &Value, what: &str| v.floats(&self.ctx, &format!("{what} of LSTM node '{label}'"));
        let (w, r) = (floats(&w, "W")?, floats(&r, "R")?);
        let b = b.map(|b| floats(&b, "B")).transpose()?;
        let p = p.map(|p| floats(&p, "P")).transpose()?;
        let directions = onnx_directions(&w, &r, b.as_deref(), p.as_deref(), d, h, input);
        let mut config = LstmConfig {
            input_size: input,
            hidden_size: h,
            direction: a.direction,
            bias: b.is_some(),
            layout: a.layout,
            peepholes: p.is_some(),
            ..LstmConfig::default()
        };
        self.apply_options(&a, &mut config)?;
        Ok(Layer {
            name: label,
            config,
            input_size: input,
            directions,
        })
    }

    /// The LSTM of `nodes` (names or qualified names), stacked as layers in that order; with no
    /// names, the model's only LSTM node.
    pub fn load(&self, nodes: &[&str]) -> Result<OnnxLstm> {
        let found = self.found();
        let select = |message: String| self.ctx.error(OnnxProblem::Selection, message);
        let listing = || {
            found
                .iter()
                .map(|f| {
                    let mut p = f.path.clone();
                    p.push(node_name(f.node));
                    p.join("/")
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let chosen: Vec<&Found<'_>> = if nodes.is_empty() {
            match found.len() {
                0 => return Err(select("the model has no LSTM node".into())),
                1 => vec![&found[0]],
                n => {
                    return Err(select(format!(
                        "the model has {n} LSTM nodes; choose with --node (names or path/name): {}",
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
                        0 => Err(select(format!(
                            "no LSTM node is called '{want}'; the model has: {}",
                            listing()
                        ))),
                        _ => Err(select(format!(
                            "'{want}' names {} LSTM nodes; give one as path/name: {}",
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
                    "layer {k} ('{}') differs from layer 0 ('{}') in hidden_size, direction, clip, input_forget, \
                     layout, biases, peepholes or activations; stacked layers must share them",
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
        let weights = LstmWeights::new(
            first.input_size,
            config.hidden_size,
            stored,
            layers.into_iter().map(|l| l.directions).collect(),
        )
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
    fn runtime_constants(
        &self,
        chosen: &[&Found<'_>],
        config: &LstmConfig,
    ) -> Result<(Option<State>, Option<Vec<usize>>)> {
        let constant = |f: &Found<'_>, i: usize| -> Result<Option<Value>> {
            let Some(name) = f.node.input.get(i).filter(|n| !n.is_empty()) else {
                return Ok(None);
            };
            match Folder::new(
                &self.ctx,
                format!("input {i} of LSTM node '{}'", node_name(f.node)),
            )
            .eval(&f.chain, name)
            {
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
        for (slot, input) in [(0, 5), (1, 6)] {
            let values: Vec<Option<Value>> =
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
                let zeros = || vec![0.0; slots * b * h];
                Some(State {
                    h: Tensor::new(vec![slots, b, h], hs.unwrap_or_else(zeros))?,
                    c: Tensor::new(vec![slots, b, h], cs.unwrap_or_else(zeros))?,
                })
            }
        };
        let lens: Vec<Option<Value>> = chosen.iter().map(|f| constant(f, 4)).collect::<Result<_>>()?;
        let seq_lens = match lens.first() {
            Some(Some(v)) => {
                let l = v.ints(&self.ctx, "sequence_lens")?;
                if lens.iter().any(|x| x.as_ref().map(|x| &x.data) != Some(&v.data)) {
                    return Err(self.ctx.error(
                        OnnxProblem::Unsupported,
                        "the layers' sequence_lens differ; stacked layers share one",
                    ));
                }
                Some(l.iter().map(|&x| x.max(0) as usize).collect())
            }
            _ => None,
        };
        Ok((initial, seq_lens))
    }
}

struct Layer {
    name: String,
    config: LstmConfig,
    input_size: usize,
    directions: Vec<crate::weights::DirectionWeights>,
}

/// An attribute's value as text.
fn attribute_text(a: &proto::AttributeProto) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match a.r#type.and_then(|t| AttributeType::try_from(t).ok()) {
        Some(AttributeType::Float) => format!("{}", a.f.unwrap_or(0.0)),
        Some(AttributeType::Int) => format!("{}", a.i.unwrap_or(0)),
        Some(AttributeType::String) => a.s.as_deref().map(text).unwrap_or_default(),
        Some(AttributeType::Floats) => format!("{:?}", a.floats),
        Some(AttributeType::Ints) => format!("{:?}", a.ints),
        Some(AttributeType::Strings) => {
            format!("{:?}", a.strings.iter().map(|s| text(s)).collect::<Vec<_>>())
        }
        other => format!("({other:?})"),
    }
}
