//! An LSTM node's attributes: each one LSTM defines, read into the parts of a configuration
//! and checked.

use super::*;

/// The attributes LSTM defines.
pub(super) const LSTM_ATTRIBUTES: [&str; 8] = [
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "input_forget",
    "layout",
];

/// The attributes GRU defines.
pub(super) const GRU_ATTRIBUTES: [&str; 8] = [
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "layout",
    "linear_before_reset",
];

/// The attributes an operator of `cell` defines.
fn attributes_of(cell: Cell) -> &'static [&'static str] {
    match cell {
        Cell::Lstm => &LSTM_ATTRIBUTES,
        Cell::Gru => &GRU_ATTRIBUTES,
        Cell::Rnn => &GRU_ATTRIBUTES[..7],
    }
}

/// The type ONNX gives each LSTM attribute.
fn expected_type(name: &str) -> Option<AttributeType> {
    Some(match name {
        "activation_alpha" | "activation_beta" => AttributeType::Floats,
        "activations" => AttributeType::Strings,
        "clip" => AttributeType::Float,
        "direction" => AttributeType::String,
        "hidden_size" | "input_forget" | "layout" | "linear_before_reset" => AttributeType::Int,
        _ => return None,
    })
}

/// Whether `attr` is of type `expected`, as onnxruntime's checker requires: its declared type,
/// or (in files that leave the type out) the field that type fills. Otherwise, what it is.
fn check_type(attr: &proto::AttributeProto, expected: AttributeType) -> std::result::Result<(), String> {
    match attr.r#type.unwrap_or(0) {
        0 => {
            let filled = match expected {
                AttributeType::Float => attr.f.is_some(),
                AttributeType::Int => attr.i.is_some(),
                AttributeType::String => attr.s.is_some(),
                // An empty list leaves no trace without its type.
                _ => true,
            };
            if filled {
                Ok(())
            } else {
                Err("without a type or a value of that type".into())
            }
        }
        t => match AttributeType::try_from(t) {
            Ok(given) if given == expected => Ok(()),
            Ok(given) => Err(given.as_str_name().into()),
            Err(_) => Err(format!("of unknown type {t}")),
        },
    }
}

/// The attributes of an LSTM, GRU or RNN node, read into the parts of a configuration.
pub(super) struct Attributes {
    pub(super) cell: Cell,
    pub(super) linear_before_reset: bool,
    pub(super) direction: Direction,
    pub(super) hidden_size: Option<usize>,
    pub(super) activations: Vec<String>,
    pub(super) alphas: Vec<f32>,
    pub(super) betas: Vec<f32>,
    pub(super) clip: Option<f32>,
    pub(super) input_forget: bool,
    pub(super) layout: Layout,
}

impl OnnxModel {
    pub(super) fn attributes(&self, f: &Found<'_>) -> Result<Attributes> {
        let label = node_name(f.node);
        let cell = cell_of(f.node).unwrap_or_default();
        let op = op_of(f.node);
        let err = |message: String| {
            self.ctx.error(
                OnnxProblem::Unsupported,
                format!("{op} node '{label}': {message}"),
            )
        };
        let mut a = Attributes {
            cell,
            linear_before_reset: false,
            direction: Direction::Forward,
            hidden_size: None,
            activations: Vec::new(),
            alphas: Vec::new(),
            betas: Vec::new(),
            clip: None,
            input_forget: false,
            layout: Layout::SeqMajor,
        };
        let mut seen = std::collections::HashSet::new();
        for attr in &f.node.attribute {
            let name = attr.name.as_deref().unwrap_or("");
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            let Some(expected) = expected_type(name).filter(|_| attributes_of(cell).contains(&name)) else {
                return Err(err(format!(
                    "attribute '{name}' ({op} has {})",
                    attributes_of(cell).join(", ")
                )));
            };
            if !seen.insert(name) {
                return Err(err(format!("attribute '{name}' is given twice")));
            }
            check_type(attr, expected).map_err(|given| {
                err(format!(
                    "attribute '{name}' is {given}, where {op} takes {}",
                    expected.as_str_name()
                ))
            })?;
            match name {
                "direction" => {
                    a.direction = match attr.s.as_deref().map(text).as_deref() {
                        Some("forward") => Direction::Forward,
                        Some("reverse") => Direction::Reverse,
                        Some("bidirectional") => Direction::Bidirectional,
                        Some(other) => {
                            return Err(err(format!(
                                "direction '{other}' (forward, reverse or bidirectional)"
                            )))
                        }
                        None => return Err(err("direction holds no string".into())),
                    }
                }
                "hidden_size" => {
                    let h = attr.i.unwrap_or(0);
                    if h <= 0 {
                        return Err(err(format!("hidden_size {h} (at least 1)")));
                    }
                    a.hidden_size = Some(h as usize);
                }
                "activations" => a.activations = attr.strings.iter().map(|s| text(s)).collect(),
                "activation_alpha" => a.alphas = attr.floats.clone(),
                "activation_beta" => a.betas = attr.floats.clone(),
                "clip" => a.clip = attr.f,
                "input_forget" => a.input_forget = attr.i.unwrap_or(0) != 0,
                "linear_before_reset" => a.linear_before_reset = attr.i.unwrap_or(0) != 0,
                "layout" => {
                    a.layout = match attr.i.unwrap_or(0) {
                        0 => Layout::SeqMajor,
                        1 => Layout::BatchMajor,
                        other => return Err(err(format!("layout {other} (0 or 1)"))),
                    }
                }
                _ => unreachable!("expected_type knows every attribute of the three operators"),
            }
        }
        Ok(a)
    }

    /// The options of a configuration from attributes alone (sizes unknown: 1).
    pub(super) fn config_without_weights(&self, a: &Attributes) -> Result<LstmConfig> {
        let mut config = LstmConfig {
            cell: a.cell,
            linear_before_reset: a.linear_before_reset,
            input_size: 1,
            hidden_size: a.hidden_size.unwrap_or(1),
            direction: a.direction,
            layout: a.layout,
            ..LstmConfig::default()
        };
        self.apply_options(a, &mut config)?;
        Ok(config)
    }

    pub(super) fn apply_options(&self, a: &Attributes, config: &mut LstmConfig) -> Result<()> {
        config.clip = a.clip;
        config.input_forget = a.input_forget;
        if !a.activations.is_empty() || !a.alphas.is_empty() || !a.betas.is_empty() {
            let names = if a.activations.is_empty() {
                let one = config.cell.default_activation_names();
                (0..config.num_directions()).flat_map(|_| one.clone()).collect()
            } else {
                a.activations.clone()
            };
            config.activations = Activation::parse_list_for(
                &names,
                &a.alphas,
                &a.betas,
                config.num_directions(),
                config.cell.activations(),
            )
            .map_err(|e| self.ctx.error(OnnxProblem::Unsupported, e.to_string()))?;
        }
        config
            .validate()
            .map_err(|e| self.ctx.error(OnnxProblem::Unsupported, e.to_string()))
    }
}

/// An attribute's value as text.
pub(super) fn attribute_text(a: &proto::AttributeProto) -> String {
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
