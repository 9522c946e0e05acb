//! `wgpu-lstm info`: every adapter wgpu finds, the limits that matter here, and the one chosen;
//! or, with `--weights`, what a weights file or `.onnx` model holds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::AdapterArgs;
use wgpu_lstm::gpu::{choose_adapter, describe_adapter, enumerate_adapters, supports_compute};
use wgpu_lstm::onnx::{is_onnx_file, OnnxModel};
use wgpu_lstm::{escape_text, Cell, LstmConfig, LstmWeights, ReadLimits, Result};

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Describe this weights file instead: a .safetensors file's convention and sizes, or every
    /// LSTM node of an .onnx model (name, path through subgraphs, sizes, attributes, whether its
    /// weights resolve, where its runtime inputs come from).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Refuse a weights file larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ReadLimits::DEFAULT.max_bytes)]
    max_file_bytes: u64,
    /// Refuse an `.onnx` model whose constant folding would compute more than this many bytes
    /// of values (each op's result, 8 bytes an element).
    #[arg(long, value_name = "BYTES", default_value_t = ReadLimits::DEFAULT.max_folded_bytes)]
    max_folded_bytes: u64,
}

fn describe_config(c: &LstmConfig) -> String {
    describe_options(c, &c.input_size.to_string())
}

/// A configuration with `input_size` as given (a node whose W does not resolve has none).
fn describe_options(c: &LstmConfig, input_size: &str) -> String {
    let mut s = format!(
        "direction {:?}, hidden_size {}, input_size {input_size}, {:?}",
        c.direction, c.hidden_size, c.layout
    );
    if c.cell != Cell::Lstm {
        s.push_str(&format!(", cell {}", c.cell.onnx_op()));
    }
    if c.cell == Cell::Gru {
        s.push_str(&format!(
            ", linear_before_reset {}",
            u8::from(c.linear_before_reset)
        ));
    }
    if !c.bias {
        s.push_str(", no biases");
    }
    if c.peepholes {
        s.push_str(", peepholes");
    }
    if let Some(clip) = c.clip {
        s.push_str(&format!(", clip {clip}"));
    }
    if c.input_forget {
        s.push_str(", input_forget");
    }
    if !c.activations.is_empty() {
        let names: Vec<String> = c.activations.iter().map(|a| a.to_string()).collect();
        s.push_str(&format!(", activations {}", names.join(",")));
    }
    s
}

/// One line of `info`, with what the file names escaped ([`escape_text`]).
fn line(text: String) {
    println!("{}", escape_text(&text));
}

/// What a weights file holds.
fn describe_weights(path: &Path, limits: ReadLimits) -> Result<ExitCode> {
    if !is_onnx_file(path, limits)? {
        let (weights, convention) = LstmWeights::load_with(path, None, limits)?;
        let c = weights.config(wgpu_lstm::Layout::SeqMajor);
        line(format!(
            "{}: .safetensors, {convention} convention",
            path.display()
        ));
        line(format!(
            "  {} layer(s), {}{}",
            c.num_layers,
            describe_config(&c),
            c.proj_size.map_or(String::new(), |p| format!(", proj_size {p}"))
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let model = OnnxModel::open_with(path, limits)?;
    line(format!(
        "{}: ONNX model, IR version {}, opset {}, producer '{}'",
        path.display(),
        model.ir_version(),
        model.opset().map_or("?".to_string(), |v| v.to_string()),
        model.producer()
    ));
    let nodes = model.lstm_nodes();
    let cells: Vec<Cell> = nodes
        .iter()
        .filter_map(|n| n.config.as_ref().ok().map(|c| c.cell))
        .collect();
    let quantized = nodes.iter().filter(|n| n.quantization.is_some()).count();
    if cells.iter().all(|&c| c == Cell::Lstm) {
        line(format!(
            "{} LSTM node(s){}",
            nodes.len(),
            if quantized > 0 {
                format!(" ({quantized} quantized: DynamicQuantizeLSTM)")
            } else {
                String::new()
            }
        ));
    } else {
        let count = |cell: Cell| cells.iter().filter(|&&c| c == cell).count();
        line(format!(
            "{} recurrent node(s): {} LSTM, {} GRU, {} RNN",
            nodes.len(),
            count(Cell::Lstm),
            count(Cell::Gru),
            count(Cell::Rnn)
        ));
    }
    for other in model.other_recurrent_nodes() {
        line(format!(
            "not read: {other}, an operator the engine does not implement"
        ));
    }
    for (k, node) in nodes.iter().enumerate() {
        line(format!("[{k}] {}", node.name));
        if !node.path.is_empty() {
            line(format!("    in: {}", node.path.join(" / ")));
        }
        if let Some(q) = &node.quantization {
            line(format!(
                "    quantized (DynamicQuantizeLSTM): {q}; dequantized to f32 at load"
            ));
        }
        match &node.config {
            Ok(c) => line(format!(
                "    {}",
                describe_options(
                    c,
                    &node
                        .input_size
                        .map_or("unknown (W does not resolve)".into(), |i| i.to_string())
                )
            )),
            Err(e) => line(format!("    attributes: {e}")),
        }
        let attributes: Vec<String> = node.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line(format!(
            "    attributes: {}",
            if attributes.is_empty() {
                "none".into()
            } else {
                attributes.join(" ")
            }
        ));
        match &node.weights {
            Ok(()) => line(format!(
                "    weights: resolved (W, R{}{})",
                if node.config.as_ref().is_ok_and(|c| c.bias) {
                    ", B"
                } else {
                    ""
                },
                if node.config.as_ref().is_ok_and(|c| c.peepholes) {
                    ", P"
                } else {
                    ""
                }
            )),
            Err(e) => line(format!("    weights: cannot be resolved: {e}")),
        }
        for (role, source) in &node.inputs {
            line(format!("    {role}: {source}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn info(args: &InfoArgs) -> Result<ExitCode> {
    if let Some(path) = &args.weights {
        return describe_weights(
            path,
            ReadLimits {
                max_bytes: args.max_file_bytes,
                max_folded_bytes: args.max_folded_bytes,
            },
        );
    }
    let request = args.adapter.request();
    let (_instance, adapters) = enumerate_adapters(None);
    if adapters.is_empty() {
        println!("no adapters found");
    }
    for (i, adapter) in adapters.iter().enumerate() {
        let info = adapter.get_info();
        let l = adapter.limits();
        println!("[{i}] {}", describe_adapter(&info));
        let features = adapter.features();
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!(
            "    compute shaders: {}  timestamp queries: {}  subgroups: {} (min size {})  shader-f16: {}",
            yes(supports_compute(adapter)),
            yes(features.contains(wgpu::Features::TIMESTAMP_QUERY)),
            yes(features.contains(wgpu::Features::SUBGROUP)),
            info.subgroup_min_size,
            yes(features.contains(wgpu::Features::SHADER_F16)),
        );
        println!(
            "    max_storage_buffer_binding_size {}  max_buffer_size {}  max_storage_buffers_per_shader_stage {}",
            l.max_storage_buffer_binding_size, l.max_buffer_size, l.max_storage_buffers_per_shader_stage
        );
        println!(
            "    max_compute_workgroups_per_dimension {}  max_compute_invocations_per_workgroup {}  max_compute_workgroup_storage_size {}",
            l.max_compute_workgroups_per_dimension,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size
        );
    }
    let filtered: Vec<wgpu::Adapter> = match request.backends {
        Some(b) => adapters
            .into_iter()
            .filter(|a| b.contains(a.get_info().backend.into()))
            .collect(),
        None => adapters,
    };
    match choose_adapter(&filtered, &request) {
        Some(i) => println!("selected: {}", describe_adapter(&filtered[i].get_info())),
        None => println!(
            "selected: none (no adapter with compute shaders matches; use --device cpu, or install a software driver such as mesa-vulkan-drivers)"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
