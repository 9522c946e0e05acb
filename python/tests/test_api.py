"""The rest of the API: adapters, conformance, benchmarks, files (.safetensors and .onnx with
node=), ONNX constants used as defaults, properties."""

import numpy as np
import pytest

import wgpu_lstm
from conftest import ONNX_DATA, assert_close


def test_adapters():
    found = wgpu_lstm.adapters()
    assert found, "no adapter"
    for a in found:
        assert set(a) >= {"name", "backend", "device_type", "driver", "driver_info", "vendor", "device"}
    lstm = wgpu_lstm.LSTM.from_state_dict({"weight_ih_l0": np.zeros((4, 1)), "weight_hh_l0": np.zeros((4, 1))})
    assert lstm.device == "gpu"
    assert lstm.backend in {a["backend"] for a in found}
    assert any(a["name"] in lstm.adapter for a in found)
    gl = wgpu_lstm.adapters(backend="gl")
    assert all(a["backend"] == "gl" for a in gl)


def test_conform():
    result = wgpu_lstm.conform(1, seed=5, every_variant=False)
    # The 21 named strata always run; every run passes under the error model.
    assert result.passed >= 21 and result.failed == 0, result.runs
    assert result and result.ok
    assert 0 < result.worst_ratio <= 1
    run = result.runs[0]
    assert run["verdict"] == "pass" and run["kernels"] and run["max_abs_error"] >= 0
    assert "ConformResult(passed=" in repr(result)
    # Training follows the forward cases: nine strata (the GRU's and RNN's four included), six
    # finite-difference checks, two optimizers, every training kernel.
    training = [r for r in result.runs if r["config"].startswith(("training [", "finite differences ", "optimizer "))]
    assert len(training) == 17, result.runs[-18:]
    assert all(r["verdict"] == "pass" and 0 <= r["worst_ratio"] <= 1 for r in training), training
    ran = set(", ".join(r["kernels"] for r in training if r["kernels"]).split(", "))
    assert {"train_forward", "train_forward_single", "train_backward", "train_gemm", "train_update"} <= ran, ran
    forward_only = wgpu_lstm.conform(1, seed=5, every_variant=False, training=False)
    assert not any(r["config"].startswith("training") for r in forward_only.runs)


def test_bench():
    report = wgpu_lstm.bench([(2, 9, 5, 7), (1, 3, 4, 6, 2)], warmup=0, reps=2)
    assert report["schema"] == "wgpu-lstm-bench/2"
    assert [r["shape"]["layers"] for r in report["results"]] == [1, 2]
    first = report["results"][0]
    assert first["counters"]["submits"] == 1 and first["max_abs_error"] < 1e-4
    with pytest.raises(ValueError, match="shapes"):
        wgpu_lstm.bench([(1, 2, 3)])


def test_safetensors_and_onnx_of_one_torch_module():
    """torch.onnx.export of a 2-layer bidirectional batch_first LSTM, and its state_dict: both
    give the module's outputs (the export transposes x to sequence-major first)."""
    d = ONNX_DATA / "torch_dynamo"
    x = np.load(d / "x.npy")
    y_ref = np.load(d / "expected_y.npy")
    from_sd = wgpu_lstm.LSTM.load(d / "state_dict.safetensors", batch_first=True)
    assert from_sd.convention == "pytorch" and from_sd.batch_first
    zeros = np.zeros((4, x.shape[0], 7), np.float32)
    y, (h, c) = from_sd(x, (zeros, zeros))
    assert_close("state_dict y", y, y_ref)
    assert_close("state_dict h_n", h, np.load(d / "expected_h_n.npy"))
    from_onnx = wgpu_lstm.LSTM.load(d / "model.onnx", node=["node_LSTM_112", "node_LSTM_220"])
    assert from_onnx.convention == "onnx" and from_onnx.num_layers == 2 and from_onnx.bidirectional
    # The model's constant initial state (zeros) is the default; ONNX's Y is (T, D, B, H).
    y_onnx, (h_onnx, _) = from_onnx(x.transpose(1, 0, 2))
    t, b = x.shape[1], x.shape[0]
    assert y_onnx.shape == (t, 2, b, 7)
    assert_close("onnx y", y_onnx.transpose(2, 0, 1, 3).reshape(b, t, 14), y_ref)
    assert_close("onnx h_n", h_onnx, np.load(d / "expected_h_n.npy"))


def test_silero_vad_node():
    d = ONNX_DATA / "silero"
    node = (d / "node").read_text().strip()
    lstm = wgpu_lstm.LSTM.load(d / "silero_vad.onnx", node=node)
    y, (h, c) = lstm(np.load(d / "x.npy"), (np.load(d / "h0.npy"), np.load(d / "c0.npy")))
    assert_close("silero y", y, np.load(d / "expected_y.npy"))
    assert_close("silero c", c, np.load(d / "expected_c_n.npy"))


def test_quantized_onnx_node():
    """onnxruntime's DynamicQuantizeLSTM (int8 weights per output channel), dequantized at load:
    onnxruntime's float LSTM on the same dequantized weights (tests/onnx/quantized/)."""
    d = ONNX_DATA / "quantized"
    lstm = wgpu_lstm.LSTM.load(d / "int8_channel.onnx")
    assert lstm.convention == "onnx" and lstm.bidirectional and lstm.hidden_size == 7
    y, (h, c) = lstm(np.load(d / "x.npy"), seq_lens=np.load(d / "lens.npy"))
    assert_close("quantized y", y, np.load(d / "int8_channel_y.npy"))
    assert_close("quantized h_n", h, np.load(d / "int8_channel_h_n.npy"))
    assert_close("quantized c_n", c, np.load(d / "int8_channel_c_n.npy"))
    # Stored as int8 on the GPU with the model's own scales: the same weights.
    lstm8 = wgpu_lstm.LSTM.load(d / "int8_channel.onnx", weights_precision="int8")
    assert lstm8.weights_precision == "int8" and lstm8.weight_bytes < lstm.weight_bytes
    y8, _ = lstm8(np.load(d / "x.npy"), seq_lens=np.load(d / "lens.npy"))
    assert_close("quantized y, int8 storage", y8, np.load(d / "int8_channel_y.npy"))


def test_int8_weights():
    # int8 weights on the GPU against the CPU reference on the same quantized weights, fewer
    # bytes than f16 (scales and f32 biases included), and near the f32 result.
    rng = np.random.default_rng(3)
    sd = {
        "weight_ih_l0": rng.uniform(-0.5, 0.5, (4 * 37, 11)),
        "weight_hh_l0": rng.uniform(-0.5, 0.5, (4 * 37, 37)),
        "bias_ih_l0": rng.uniform(-0.5, 0.5, 4 * 37),
        "bias_hh_l0": rng.uniform(-0.5, 0.5, 4 * 37),
    }
    x = rng.uniform(-1, 1, (9, 3, 11))
    lstm = wgpu_lstm.LSTM.from_state_dict(sd, weights_precision="int8")
    full = wgpu_lstm.LSTM.from_state_dict(sd)
    assert lstm.weights_precision == "int8"
    half = wgpu_lstm.LSTM.from_state_dict(sd, weights_precision="f16")
    assert lstm.weight_bytes < half.weight_bytes < full.weight_bytes, (lstm.weight_bytes, half.weight_bytes)
    y, (h, c) = lstm(x)
    cpu = wgpu_lstm.LSTM.from_state_dict(sd, device="cpu", weights_precision="int8")
    assert cpu.weight_bytes is None
    yc, (hc, cc) = cpu(x)
    assert_close("int8 gpu vs cpu", y, yc)
    assert_close("int8 gpu vs cpu c_n", c, cc)
    err = np.abs(y - full(x)[0]).max()
    assert 0 < err < 0.05, err


def test_properties_and_f16():
    rng = np.random.default_rng(1)
    sd = {
        "lstm.weight_ih_l0": rng.uniform(-0.5, 0.5, (20, 3)),
        "lstm.weight_hh_l0": rng.uniform(-0.5, 0.5, (20, 5)),
        "lstm.weight_ih_l0_reverse": rng.uniform(-0.5, 0.5, (20, 3)),
        "lstm.weight_hh_l0_reverse": rng.uniform(-0.5, 0.5, (20, 5)),
    }
    lstm = wgpu_lstm.LSTM.from_state_dict(sd, batch_first=True, weights_precision="f16")
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (3, 5, 1)
    assert lstm.bidirectional and lstm.direction == "bidirectional" and lstm.batch_first
    assert lstm.weights_precision == "f16"
    assert repr(lstm).startswith("LSTM(3, 5, num_layers=1, direction='bidirectional', batch_first=True")
    x = rng.uniform(-1, 1, (2, 6, 3))
    y, _ = lstm(x)
    assert y.shape == (2, 6, 10)
    stats = lstm.last_stats()
    assert stats["submits"] == 1 and stats["readbacks"] == 1 and stats["dispatches"] >= 2
    cpu = wgpu_lstm.LSTM.from_state_dict(sd, batch_first=True, device="cpu", weights_precision="f16")
    assert cpu.last_stats() is None and cpu.backend is None
    assert_close("f16 gpu vs cpu", y, cpu(x)[0])
