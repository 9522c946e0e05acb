//! onnxruntime's quantized LSTM (`com.microsoft::DynamicQuantizeLSTM`) as its quantizer ships it:
//! the models of `tests/onnx/quantized/` (made by `make_quantized.py` there with
//! `onnxruntime.quantization.quantize_dynamic`, int8 weights with scales per direction and per
//! output channel, and uint8 weights with zero points that are not 0) through `run` on the CPU
//! and the GPU, against onnxruntime's float LSTM on the same weights dequantized by numpy; how
//! far that lies from onnxruntime's own quantized kernel; `info` and `--node`.

mod common;

use std::path::{Path, PathBuf};

use wgpu_lstm::gpu::Lstm;
use wgpu_lstm::onnx::OnnxModel;
use wgpu_lstm::{Comparison, CpuLstm, Dims, ErrorBound, LstmConfig, LstmWeights, Precision, Tensor};

const MODELS: [&str; 3] = ["int8_tensor", "int8_channel", "uint8_asymmetric"];

/// The largest distance between the engine's Y and onnxruntime's quantized kernel's on these
/// models (it quantizes X and h to uint8 at every step; measured 2.4e-3): far above the
/// dequantized comparison's `common::TOLERANCE`, far below a wrong weight's.
const ORT_KERNEL_DISTANCE: f32 = 5e-3;

/// How far summing the two biases in f32 (as the GPU holds them) moves y on these models,
/// measured 3e-8: a requantized row moves it by 1e-4 or more.
const BIAS_SUM: f32 = 2e-7;

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/onnx/quantized")
        .join(name)
}

fn npy(name: &str) -> Tensor {
    Tensor::read_npy(&file(name)).unwrap()
}

/// `wgpu-lstm run` of a model on `device` with its lengths and `extra` flags: the output folder,
/// or the error.
fn run(model: &str, device: &str, extra: &[&str]) -> Result<tempfile::TempDir, String> {
    let lens = file("lens.npy").display().to_string();
    let flags: Vec<&str> = ["--seq-lens", lens.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    common::run_model(&file(&format!("{model}.onnx")), &file("x.npy"), device, &flags)
}

#[test]
fn quantized_models_equal_onnxruntime_on_their_dequantized_weights() {
    let gpu = common::gpu().is_some();
    for model in MODELS {
        for device in ["cpu", "gpu"].into_iter().filter(|d| *d == "cpu" || gpu) {
            let what = format!("{model} on the {device}");
            let out = run(model, device, &[]).unwrap_or_else(|e| panic!("{what}: {e}"));
            for part in ["y", "h_n", "c_n"] {
                let got = Tensor::read_npy(&out.path().join(format!("{part}.npy"))).unwrap();
                let expected = npy(&format!("{model}_{part}.npy"));
                common::assert_close(&format!("{what}: {part}"), &got, &expected, common::TOLERANCE);
            }
            let y = Tensor::read_npy(&out.path().join("y.npy")).unwrap();
            let (worst, at) = common::worst_error(&y, &npy(&format!("{model}_ort_y.npy")));
            assert!(
                worst > common::TOLERANCE && worst < ORT_KERNEL_DISTANCE,
                "{what}: {worst:e} from onnxruntime's quantized kernel at element {at}"
            );
        }
    }
}

#[test]
fn info_names_the_quantization_and_node_selects_the_node() {
    for (model, says) in [
        ("int8_tensor", "W int8 per direction, R int8 per direction"),
        (
            "int8_channel",
            "W int8 per output channel, R int8 per output channel",
        ),
        ("uint8_asymmetric", "W uint8 per direction, R uint8 per direction"),
    ] {
        let o = common::bin()
            .arg("info")
            .arg("--weights")
            .arg(file(&format!("{model}.onnx")))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{stdout}");
        assert!(
            stdout.contains("1 LSTM node(s) (1 quantized: DynamicQuantizeLSTM)")
                && stdout.contains(&format!("quantized (DynamicQuantizeLSTM): {says}")),
            "{model}: {stdout}"
        );
    }
    run("int8_channel", "cpu", &["--node", "LSTM_quant_quant"]).unwrap();
    let err = run("int8_channel", "cpu", &["--node", "LSTM_202_quant"]).unwrap_err();
    assert!(
        err.contains("no LSTM node is called 'LSTM_202_quant'; the model has: LSTM_quant_quant"),
        "{err}"
    );
}

/// `--weights-precision int8` stores a quantized model's rows with their own scales: on the CPU
/// reference (which rounds as the GPU stores) the output equals the f32 run on the dequantized
/// weights but for the f32 sum of the two biases (`LstmWeights::rounded`: measured 3e-8) where
/// every row's q − zero point fits in int8 (both int8 models), and moves by the requantized rows
/// where one does not (the uint8 model's W of direction 1, zero point 129, holds q = 0); the GPU
/// stays within the dequantized comparison's tolerance of onnxruntime's float LSTM where the
/// rows are kept.
#[test]
fn int8_storage_keeps_a_quantized_models_own_scales() {
    let gpu = common::gpu().is_some();
    for model in MODELS {
        let y = |device: &str, precision: &str| {
            let out = run(model, device, &["--weights-precision", precision])
                .unwrap_or_else(|e| panic!("{model} on the {device} at {precision}: {e}"));
            Tensor::read_npy(&out.path().join("y.npy")).unwrap()
        };
        let (full, int8) = (y("cpu", "f32"), y("cpu", "int8"));
        let (worst, at) = common::worst_error(&int8, &full);
        eprintln!("{model}: int8 storage moves y by {worst:e} at element {at}");
        if model == "uint8_asymmetric" {
            assert!(
                worst > common::TOLERANCE && worst < ORT_KERNEL_DISTANCE,
                "{model}: {worst:e} at {at}"
            );
            continue;
        }
        assert!(
            worst <= BIAS_SUM,
            "{model}: int8 storage moved y by {worst:e} at element {at}"
        );
        if gpu {
            let got = y("gpu", "int8");
            common::assert_close(
                &format!("{model} int8 on the GPU"),
                &got,
                &npy(&format!("{model}_y.npy")),
                common::TOLERANCE,
            );
        }
    }
}

/// The library on the GPU against the CPU reference on the same weights, under the error model
/// (the adapter `WGPU_BACKEND` picks; CI runs this on Vulkan and GL): the quantized node with its
/// dequantized weights in f32 and stored as int8 with its own scales, and a float model stored
/// as int8 fed through the streaming API three steps at a time.
#[test]
fn the_gpu_matches_the_cpu_under_the_error_model_in_f32_and_int8() {
    let Some(ctx) = common::gpu() else { return };
    let onnx = OnnxModel::open(&file("int8_channel.onnx"))
        .and_then(|m| m.load(&[]))
        .unwrap();
    let x = npy("x.npy");
    let dims = |x: &Tensor| Dims {
        seq_len: x.shape()[0],
        batch: x.shape()[1],
    };
    for precision in [Precision::F32, Precision::Int8] {
        let config = LstmConfig {
            weights_precision: precision,
            ..onnx.config.clone()
        };
        let got = Lstm::with_cache(ctx.pipeline_cache(), &ctx.queue, &config, &onnx.weights)
            .and_then(|gpu| gpu.forward(&x, None))
            .unwrap();
        let expected = CpuLstm::new(&config, &onnx.weights)
            .unwrap()
            .forward(&x, None)
            .unwrap();
        let check = got
            .compare(&expected, ErrorBound::for_model(&config, dims(&x)))
            .unwrap();
        assert!(check.passed(), "{}: {check:?}", precision.name());
    }
    // Streaming: 2 layers, H = 45, int8; Y of each chunk against the CPU's whole Y.
    let config = LstmConfig {
        input_size: 13,
        hidden_size: 45,
        num_layers: 2,
        weights_precision: Precision::Int8,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 5).unwrap();
    let x = Tensor::random(vec![10, 3, 13], 1.0, 6).unwrap();
    let gpu = Lstm::with_cache(ctx.pipeline_cache(), &ctx.queue, &config, &weights).unwrap();
    let mut state = gpu.new_state(3).unwrap();
    let mut y = Vec::new();
    for t in (0..10).step_by(3) {
        let n = 3.min(10 - t);
        let chunk = Tensor::new(vec![n, 3, 13], x.data()[t * 3 * 13..][..n * 3 * 13].to_vec()).unwrap();
        y.extend_from_slice(gpu.forward_stream(&chunk, &mut state, None).unwrap().data());
    }
    let expected = CpuLstm::new(&config, &weights)
        .unwrap()
        .forward(&x, None)
        .unwrap();
    let y = Tensor::new(expected.y.shape().to_vec(), y).unwrap();
    let check =
        Comparison::of_tensor("y", &y, &expected.y, ErrorBound::for_model(&config, dims(&x))).unwrap();
    assert!(check.passed(), "int8 streams: {check:?}");
}
