//! The demo page's engine (`web/index.html`): a model (an LSTM, GRU or RNN, told by its shapes)
//! from `.safetensors` or `.onnx` bytes run on WebGPU
//! and by the CPU reference compiled to wasm, timed and compared under the error model.

use wasm_bindgen::prelude::*;
use web_time::Instant;
use wgpu_lstm::gpu::{GpuContext, Lstm};
use wgpu_lstm::onnx::{looks_like_onnx, OnnxModel};
use wgpu_lstm::{
    Convention, CpuLstm, Dims, Error, ErrorBound, Layout, LstmConfig, LstmWeights, Precision, Tensor,
};

/// Run the model in `model` (`.safetensors` bytes, either convention, or an `.onnx` model with
/// one LSTM, GRU or RNN node, a `DynamicQuantizeLSTM` included) on `seq` steps of `batch`
/// random sequences (seed 1), its weights stored on the GPU at `precision` ("f32", "f16" or
/// "int8"; the CPU reference rounds them the same way); returns a JSON report: adapter, model, timings, the comparison with
/// the CPU reference, the first batch element's outputs for the plot, and the input and the GPU's
/// whole y (`input`, `output`: shape and values), which `scripts/check-web.py` checks against a
/// native run instead of trusting the page's own verdict. With no WebGPU adapter the report's
/// `status` is `no-webgpu`.
#[wasm_bindgen]
pub async fn run(model: Vec<u8>, seq: usize, batch: usize, precision: String) -> String {
    match run_checked(&model, seq, batch, &precision).await {
        Ok(report) => report.to_string(),
        Err(Error::NoAdapter { hint, .. }) => {
            serde_json::json!({ "status": "no-webgpu", "message": format!("no WebGPU: {hint}") }).to_string()
        }
        Err(e) => serde_json::json!({ "status": "error", "message": e.to_string() }).to_string(),
    }
}

async fn run_checked(
    model: &[u8],
    seq: usize,
    batch: usize,
    precision: &str,
) -> wgpu_lstm::Result<serde_json::Value> {
    let weights_precision = Precision::from_name(precision)
        .ok_or_else(|| Error::invalid("precision", format!("'{precision}': expected f32, f16 or int8")))?;
    // An .onnx model keeps its nodes' attributes (and a DynamicQuantizeLSTM's row scales).
    let (weights, config, convention) = if looks_like_onnx(model) {
        let onnx = OnnxModel::from_bytes(model, None)?.load(&[])?;
        (onnx.weights, onnx.config, Convention::Onnx)
    } else {
        let (weights, convention) = LstmWeights::from_safetensors(model, None)?;
        let config = weights.config(Layout::SeqMajor);
        (weights, config, convention)
    };
    let config = LstmConfig {
        weights_precision,
        layout: Layout::SeqMajor,
        ..config
    };
    let ctx = GpuContext::new_async().await?;
    let lstm = Lstm::new_async(ctx.pipeline_cache(), &ctx.queue, &config, &weights, None).await?;
    let x = Tensor::random(vec![seq, batch, config.input_size], 1.0, 1)?;
    // The first forward compiles the kernels; the second is timed.
    let started = Instant::now();
    lstm.forward_async(&x, None, None).await?;
    let first_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let out = lstm.forward_async(&x, None, None).await?;
    let gpu_ms = started.elapsed().as_secs_f64() * 1e3;
    let stats = lstm.last_stats();
    let started = Instant::now();
    let reference = CpuLstm::new(&config, &weights)?.forward(&x, None)?;
    let cpu_ms = started.elapsed().as_secs_f64() * 1e3;
    let bound = ErrorBound::for_model(&config, Dims { seq_len: seq, batch });
    let comparison = out.compare(&reference, bound)?;
    // y of batch element 0: [T][features].
    let width = out.y.shape()[2];
    let plot: Vec<&[f32]> = (0..seq)
        .map(|t| &out.y.data()[(t * batch) * width..][..width])
        .collect();
    Ok(serde_json::json!({
        "status": if comparison.passed() { "pass" } else { "fail" },
        "adapter": format!("{:?}, {:?}", ctx.adapter_info().backend, ctx.adapter_info().device_type),
        "model": format!(
            "{} ({} convention): input {}, hidden {}, {} layer(s), {:?}",
            config.cell.onnx_op(),
            convention,
            config.input_size,
            config.hidden_size,
            config.num_layers,
            config.direction
        ),
        "cell": config.cell.name(),
        "weights_precision": config.weights_precision.name(),
        "weight_bytes": lstm.weight_bytes(),
        "shape": { "seq": seq, "batch": batch },
        "first_forward_ms": first_ms,
        "gpu_ms": gpu_ms,
        "gpu_us_per_step": gpu_ms * 1e3 / seq as f64,
        "cpu_ms": cpu_ms,
        "dispatches": stats.dispatches,
        "submits": stats.submits,
        "kernels": stats.variants.to_string(),
        "max_abs_error": comparison.max_abs_error,
        "worst_ratio": comparison.worst_ratio,
        "atol": bound.atol,
        "rtol": bound.rtol,
        "y": plot,
        "input": { "shape": x.shape(), "data": x.data() },
        "output": { "shape": out.y.shape(), "data": out.y.data() },
    }))
}
