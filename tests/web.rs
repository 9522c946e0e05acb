//! The engine in a browser: wasm32, WebGPU, run by wasm-bindgen-test in headless Chromium
//! (`cargo test --target wasm32-unknown-unknown --no-default-features --test web`; see
//! .cargo/config.toml and webdriver.json). Only the async API exists there: every error comes
//! back through error-scope futures, nothing blocks, nothing is autotuned.
//!
//! GPU vs the CPU reference (compiled to wasm too) over the conformance strata and a grid of
//! shapes that are not multiples of the workgroup sizes, each held to the error model; streaming
//! equal to whole; a stream pool; training (gradients against the CPU's f64 backward, an optimizer step); error
//! paths.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use wgpu_lstm::conform::{suite, CaseShape, ConformCase, Verdict};
use wgpu_lstm::gpu::{GpuContext, Lstm, TrainLstm, Trainer, Variants};
use wgpu_lstm::{
    CpuLstm, Dims, Direction, Error, ErrorBound, LstmConfig, LstmWeights, Optimizer, Precision, State,
    StreamPool, Tensor,
};

wasm_bindgen_test_configure!(run_in_browser);

async fn context() -> GpuContext {
    GpuContext::new_async().await.expect("a WebGPU adapter")
}

/// The browser's own description of its WebGPU adapter (wgpu leaves the name empty on the web):
/// `navigator.gpu.requestAdapter()`'s `info`, and the browser's user agent.
async fn browser_adapter() -> String {
    use js_sys::{Function, Promise, Reflect};
    let get = |object: &JsValue, key: &str| {
        Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    };
    let navigator = get(&js_sys::global(), "navigator");
    let gpu = get(&navigator, "gpu");
    let request: Function = get(&gpu, "requestAdapter").into();
    let promise: Promise = request.call0(&gpu).expect("requestAdapter").into();
    let adapter = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("an adapter");
    let info = get(&adapter, "info");
    let fields: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|k| get(&info, k).as_string())
        .filter(|s| !s.is_empty())
        .collect();
    let agent = get(&navigator, "userAgent").as_string().unwrap_or_default();
    format!("{} ({agent})", fields.join(" "))
}

/// The adapter is WebGPU's; the run prints which one (with --nocapture, as CI runs it).
#[wasm_bindgen_test]
async fn adapter_is_webgpu() {
    let ctx = context().await;
    let info = ctx.adapter_info();
    console_log!(
        "WebGPU adapter: {} [{:?}, {:?}]",
        browser_adapter().await,
        info.backend,
        info.device_type
    );
    assert_eq!(info.backend, wgpu::Backend::BrowserWebGpu, "{info:?}");
}

async fn check_cases(ctx: &GpuContext, cases: Vec<ConformCase>, forced: &[Option<Variants>]) {
    let (mut runs, mut worst) = (0, 0f32);
    for case in cases {
        let prepared = case
            .prepare()
            .unwrap_or_else(|e| panic!("{}: {e}", case.describe()));
        for &variants in forced {
            let variants = variants.map(|v| v.effective(&case.config));
            let result = prepared
                .run_async(ctx.pipeline_cache(), &ctx.queue, variants)
                .await;
            match Verdict::of(variants, &result) {
                Verdict::Pass => {}
                Verdict::NotApplicable => continue,
                Verdict::Fail => panic!("{} with {variants:?}: {result:?}", case.describe()),
            }
            let c = result.expect("passed").comparison;
            worst = worst.max(c.worst_ratio);
            runs += 1;
        }
    }
    console_log!("{runs} runs passed; worst error {worst:.3} of the bound");
    assert!(runs > 0);
}

/// Every conformance stratum (the named combinations of options: directions, layers, peepholes,
/// projections, clip, activations, lengths, layouts, f16), plus shapes of the grid.
#[wasm_bindgen_test]
async fn conformance_strata_and_shapes() {
    let ctx = context().await;
    let shapes: Vec<CaseShape> = ["1,1,1,1", "3,7,5,33", "5,17,33,65,2", "17,3,100,9", "2,40,16,130"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let cases = suite(0, 300, &shapes)
        .unwrap()
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    check_cases(&ctx, cases, &[None]).await;
}

/// Every kernel combination on a few random cases.
#[wasm_bindgen_test]
async fn every_kernel_variant() {
    let ctx = context().await;
    let forced: Vec<Option<Variants>> = Variants::all().into_iter().map(Some).collect();
    let cases = (0..3).map(|k| ConformCase::random(900 + k)).collect();
    check_cases(&ctx, cases, &forced).await;
}

fn model(direction: Direction, hidden: usize) -> (LstmConfig, LstmWeights) {
    let config = LstmConfig {
        input_size: 6,
        hidden_size: hidden,
        num_layers: 2,
        direction,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 3).unwrap();
    (config, weights)
}

fn input(t: usize, b: usize, i: usize) -> Tensor {
    wgpu_lstm::Tensor::random(vec![t, b, i], 1.0, 11).unwrap()
}

/// Streams fed chunk by chunk equal the whole forward (and the CPU), state read back included.
#[wasm_bindgen_test]
async fn streaming_equals_whole() {
    let ctx = context().await;
    let (config, weights) = model(Direction::Forward, 13);
    let lstm = Lstm::new_async(ctx.pipeline_cache(), &ctx.queue, &config, &weights, None)
        .await
        .unwrap();
    let (t, b) = (11, 3);
    let x = input(t, b, 6);
    let whole = lstm.forward_async(&x, None, None).await.unwrap();
    let cpu = CpuLstm::new(&config, &weights)
        .unwrap()
        .forward(&x, None)
        .unwrap();
    assert!(whole.max_abs_diff(&cpu).unwrap() < 1e-4);
    let mut state = lstm.new_state_async(b).await.unwrap();
    let mut ys = Vec::new();
    for (start, len) in [(0, 4), (4, 1), (5, 6)] {
        let chunk = x.slice_axis(0, start, len).unwrap();
        ys.push(lstm.forward_stream_async(&chunk, &mut state, None).await.unwrap());
    }
    let y = Tensor::concat(0, &ys).unwrap();
    assert!(
        y.max_abs_diff(&whole.y).unwrap() < 1e-5,
        "{:?}",
        y.max_abs_diff(&whole.y)
    );
    let State { h, c } = lstm.read_state_async(&state).await.unwrap();
    assert!(h.max_abs_diff(&whole.h_n).unwrap() < 1e-5);
    assert!(c.max_abs_diff(&whole.c_n).unwrap() < 1e-5);
    // A stream from a given state continues from it: as the CPU from that initial state.
    let initial = State { h, c };
    let mut resumed = lstm.state_from(&initial).unwrap();
    let more = x.slice_axis(0, 0, 2).unwrap();
    let next = lstm
        .forward_stream_async(&more, &mut resumed, None)
        .await
        .unwrap();
    let expected = CpuLstm::new(&config, &weights)
        .unwrap()
        .forward(&more, Some(&initial))
        .unwrap();
    assert!(next.max_abs_diff(&expected.y).unwrap() < 1e-4);
}

/// A stream pool on WebGPU (the async forms): ragged steps over some of its streams, a close and
/// a reused slot, each stream equal to the CPU reference's pool over the same schedule, states
/// read back included.
#[wasm_bindgen_test]
async fn stream_pool_matches_the_cpu() {
    let ctx = context().await;
    let (config, weights) = model(Direction::Forward, 13);
    let lstm = Lstm::new_async(ctx.pipeline_cache(), &ctx.queue, &config, &weights, None)
        .await
        .unwrap();
    let mut gpu = StreamPool::with_capacity(lstm, 2).unwrap();
    let mut cpu = StreamPool::with_capacity(CpuLstm::new(&config, &weights).unwrap(), 2).unwrap();
    let chunk = |t: usize, seed: u64| Tensor::random(vec![t, 6], 1.0, seed).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push((gpu.open().unwrap(), cpu.open().unwrap()));
    }
    for (step, lens) in [[2usize, 0, 3], [1, 1, 0], [0, 4, 2]].iter().enumerate() {
        if step == 2 {
            // Close the first stream and open another in its slot.
            let (g, c) = ids.remove(0);
            gpu.close(g).unwrap();
            cpu.close(c).unwrap();
            ids.push((gpu.open().unwrap(), cpu.open().unwrap()));
        }
        let chunks: Vec<Tensor> = lens
            .iter()
            .enumerate()
            .map(|(k, &t)| chunk(t, (step * 3 + k) as u64))
            .collect();
        let g: Vec<_> = ids.iter().zip(&chunks).map(|((g, _), x)| (*g, x)).collect();
        let c: Vec<_> = ids.iter().zip(&chunks).map(|((_, c), x)| (*c, x)).collect();
        let (ys, want) = (
            gpu.step_async(&g).await.unwrap(),
            cpu.step_async(&c).await.unwrap(),
        );
        for (y, w) in ys.iter().zip(&want) {
            assert!(
                y.max_abs_diff(w).unwrap() < 1e-4,
                "step {step}: {:?}",
                y.max_abs_diff(w)
            );
        }
    }
    for (g, c) in &ids {
        let (got, want) = (
            gpu.state_async(*g).await.unwrap(),
            cpu.state_async(*c).await.unwrap(),
        );
        assert!(got.h.max_abs_diff(&want.h).unwrap() < 1e-4);
        assert!(got.c.max_abs_diff(&want.c).unwrap() < 1e-4);
    }
}

/// Bad requests are typed errors; requests beyond the device's limits are DeviceLimit; GPU
/// errors come back through the error scopes, not as panics.
#[wasm_bindgen_test]
async fn error_paths() {
    let ctx = context().await;
    let (config, weights) = model(Direction::Bidirectional, 5);
    let lstm = Lstm::new_async(ctx.pipeline_cache(), &ctx.queue, &config, &weights, None)
        .await
        .unwrap();
    let err = lstm.forward_async(&input(4, 2, 7), None, None).await.unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    let err = lstm
        .forward_async(&input(4, 2, 6), None, Some(&[5, 1]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let err = lstm.new_state_async(1 << 28).await.err().expect("refused");
    assert!(matches!(err, Error::DeviceLimit { .. }), "{err}");
    let mut state = lstm.new_state_async(2).await.unwrap();
    let err = lstm
        .forward_stream_async(&input(3, 3, 6), &mut state, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    // Weights that do not fit the configuration.
    let (other, _) = model(Direction::Forward, 5);
    let err = Lstm::new_async(ctx.pipeline_cache(), &ctx.queue, &other, &weights, None)
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, Error::Invalid { .. } | Error::Shape { .. }),
        "{err}"
    );
    // A buffer beyond the device's limits, made directly, is caught by the scope around it.
    let device = &ctx.device;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let _ = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 1 << 40,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    assert!(
        scope.pop().await.is_some(),
        "the browser reported no error for a 1 TiB buffer"
    );
    // The engine still works afterwards, and right.
    let x = input(4, 2, 6);
    let got = lstm.forward_async(&x, None, None).await.unwrap();
    let expected = CpuLstm::new(&config, &weights)
        .unwrap()
        .forward(&x, None)
        .unwrap();
    assert!(got.max_abs_diff(&expected).unwrap() < 1e-4);
}

/// onnxruntime's quantized LSTM in the browser: the `DynamicQuantizeLSTM` model of
/// tests/onnx/quantized/ (int8 per output channel, bidirectional, from onnxruntime's quantizer)
/// loaded from its bytes and run on WebGPU with its dequantized weights in f32 and stored as int8
/// with its own scales, each against the CPU reference on the same weights under the error model
/// (tests/quantized.rs ties them to onnxruntime natively).
#[wasm_bindgen_test]
async fn quantized_onnx_model_in_f32_and_int8() {
    let bytes = include_bytes!("onnx/quantized/int8_channel.onnx");
    let onnx = wgpu_lstm::onnx::OnnxModel::from_bytes(bytes, None)
        .and_then(|m| m.load(&[]))
        .unwrap();
    let ctx = context().await;
    let x = input(6, 3, onnx.config.input_size);
    for precision in [Precision::F32, Precision::Int8] {
        let config = LstmConfig {
            weights_precision: precision,
            layout: wgpu_lstm::Layout::SeqMajor,
            ..onnx.config.clone()
        };
        let lstm = Lstm::new_async(ctx.pipeline_cache(), &ctx.queue, &config, &onnx.weights, None)
            .await
            .unwrap();
        let got = lstm.forward_async(&x, None, None).await.unwrap();
        let expected = CpuLstm::new(&config, &onnx.weights)
            .unwrap()
            .forward(&x, None)
            .unwrap();
        let bound = ErrorBound::for_model(&config, Dims { seq_len: 6, batch: 3 });
        let check = got.compare(&expected, bound).unwrap();
        assert!(check.passed(), "{}: {check:?}", precision.name());
    }
}

/// Training on WebGPU: forward_train_async and backward_async against the CPU's f64 backward
/// (two bidirectional layers with a projection, lengths, initial state, H beyond one
/// workgroup), then an Adam step that moves the weights.
#[wasm_bindgen_test]
async fn training_gradients_match_the_cpu() {
    let ctx = context().await;
    let config = LstmConfig {
        input_size: 5,
        hidden_size: 70,
        num_layers: 2,
        direction: Direction::Bidirectional,
        proj_size: Some(6),
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 3).unwrap();
    let (t, b) = (9, 3);
    let x = wgpu_lstm::Tensor::random(vec![t, b, 5], 1.0, 1).unwrap();
    let initial = State {
        h: wgpu_lstm::Tensor::random(vec![4, b, 6], 1.0, 2).unwrap(),
        c: wgpu_lstm::Tensor::random(vec![4, b, 70], 1.0, 3).unwrap(),
    };
    let lens = [9, 4, 7];
    let model = TrainLstm::new(&ctx.device, &ctx.queue, &config, &weights).unwrap();
    let (out, tape) = model
        .forward_train_async(&x, Some(&initial), Some(&lens))
        .await
        .unwrap();
    let cpu = CpuLstm::new(&config, &weights).unwrap();
    let (cpu_out, cpu_tape) = cpu.forward_train(&x, Some(&initial), Some(&lens)).unwrap();
    console_log!(
        "training forward on WebGPU: y {:e}, h_n {:e}, c_n {:e} from the CPU",
        out.y.max_abs_diff(&cpu_out.y).unwrap(),
        out.h_n.max_abs_diff(&cpu_out.h_n).unwrap(),
        out.c_n.max_abs_diff(&cpu_out.c_n).unwrap()
    );
    assert!(out.max_abs_diff(&cpu_out).unwrap() < 1e-4);
    let dy = wgpu_lstm::Tensor::random(out.y.shape().to_vec(), 1.0, 4).unwrap();
    let dh_n = wgpu_lstm::Tensor::random(out.h_n.shape().to_vec(), 1.0, 5).unwrap();
    let got = model.backward_async(&tape, &dy, Some(&dh_n), None).await.unwrap();
    let want = cpu.backward(&cpu_tape, &dy, Some(&dh_n), None).unwrap();
    // Each gradient tensor under its own bound, as natively (tests/train.rs).
    let dims = wgpu_lstm::Dims { seq_len: t, batch: b };
    let checks = wgpu_lstm::conform::compare_gradients(&config, dims, &got, &want).unwrap();
    for check in &checks {
        let c = &check.comparison;
        assert!(
            c.passed(),
            "gradient {}: {:.3} of its bound {} ({:?})",
            check.name,
            c.worst_ratio,
            c.bound,
            c.worst
        );
    }
    let worst = checks
        .iter()
        .map(|c| c.comparison.worst_ratio)
        .fold(0.0, f32::max);
    console_log!("training on WebGPU: worst gradient {worst:.3} of its bound");
    // Adam's first step moves each weight by lr·ĝ/(|ĝ| + ε), ĝ the gradient scaled by the
    // global-norm clip (PyTorch's definitions): written out here, not the host twin.
    let (lr, max_norm) = (0.01f64, 1.0f64);
    let mut trainer =
        Trainer::new(&model, Optimizer::adam(lr as f32).with_clip_norm(max_norm as f32)).unwrap();
    trainer
        .step_async(&model, &tape, &dy, Some(&dh_n), None)
        .await
        .unwrap();
    let moved = wgpu_lstm::train::flatten(&model.weights_async().await.unwrap());
    let before = wgpu_lstm::train::flatten(&weights);
    let grads = wgpu_lstm::train::flatten(&got.weights);
    let norm = grads.iter().map(|&g| g as f64 * g as f64).sum::<f64>().sqrt();
    let scale = (max_norm / (norm + 1e-6)).min(1.0);
    for (k, ((&w1, &w0), &g)) in moved.iter().zip(&before).zip(&grads).enumerate() {
        let g = g as f64 * scale;
        let expected = w0 as f64 - lr * g / (g.abs() + 1e-8);
        assert!(
            (w1 as f64 - expected).abs() <= 1e-6,
            "weight {k}: {w1} after Adam's first step, expected {expected}"
        );
    }
    assert_eq!(model.last_stats().optimizer.dispatches, 2);
}
