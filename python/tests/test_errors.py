"""Every error the engine can give reaches Python as the exception that fits it, with the
engine's message: ValueError for shapes, dtypes, values and malformed files; OSError (and
FileNotFoundError) for files that cannot be read; wgpu_lstm.DeviceError for adapters and
device limits. Nothing panics."""

import numpy as np
import pytest

import wgpu_lstm
from conftest import GOLDENS, ONNX_DATA


@pytest.fixture(scope="module")
def sd():
    data = np.load(GOLDENS / "one_layer.npz")
    return {k[3:]: data[k] for k in data.files if k.startswith("sd.")}


@pytest.fixture(scope="module")
def lstm(sd):
    return wgpu_lstm.LSTM.from_state_dict(sd)


def test_device_error_is_a_runtime_error():
    assert issubclass(wgpu_lstm.DeviceError, RuntimeError)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda l: l(np.zeros((4, 2, 6), np.float32)), r"x: expected shape \(T, B, I\) with I = 5"),
        (lambda l: l(np.zeros((4, 5), np.float32)), "x: expected shape"),
        (lambda l: l(np.zeros((4, 2, 5), np.int64)), "not a floating-point type"),
        (lambda l: l(np.zeros((4, 2, 5)), hx=np.zeros(3)), r"hx: expected a pair"),
        (lambda l: l(np.zeros((4, 2, 5)), (np.zeros((1, 3, 7)), np.zeros((1, 2, 7)))), "h0: expected shape"),
        (lambda l: l(np.zeros((4, 2, 5)), seq_lens=[5, 4]), "length"),
        (lambda l: l(np.zeros((4, 2, 5)), seq_lens=[-1, 4]), "negative"),
        (lambda l: l(np.zeros((4, 2, 5)), seq_lens=[1.5, 4]), "integers"),
        (lambda l: l(np.zeros((4, 2, 5)), seq_lens=[1]), "seq_lens|length"),
        (lambda l: l.stream(0), "batch"),
        (lambda l: l.stream(2).step(np.zeros((3, 1, 5))), "streams"),
        (lambda l: l.stream(2).step(np.zeros((3, 2, 5)), lens=[4, 1]), "length|lens"),
    ],
)
def test_values_and_shapes_are_value_errors(lstm, call, match):
    with pytest.raises(ValueError, match=match):
        call(lstm)


def test_bad_arguments_are_value_errors(sd):
    cases = [
        (dict(device="tpu"), "device"),
        (dict(backend="glide"), "backend"),
        (dict(weights_precision="f8"), "weights_precision"),
        (dict(convention="keras"), "convention"),
        (dict(direction="sideways"), "direction"),
        (dict(clip=-1.0), "clip"),
        (dict(activations=["Sigmoid", "Tanh"]), "activations"),
        (dict(activations=["Sigmoid", "Tanh", "Swish"]), "Swish"),
        (dict(device="cpu", backend="vulkan"), "device='cpu'"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            wgpu_lstm.LSTM.from_state_dict(sd, **kwargs)
    with pytest.raises(ValueError, match="weight_ih_l0 or W"):
        wgpu_lstm.LSTM.from_state_dict({"foo": np.zeros(3)})
    with pytest.raises(ValueError, match="bias_hh_l0"):
        wgpu_lstm.LSTM.from_state_dict({k: v for k, v in sd.items() if k != "bias_hh_l0"})
    with pytest.raises(ValueError, match="mapping"):
        wgpu_lstm.LSTM.from_state_dict([1, 2, 3])
    with pytest.raises(ValueError, match="floating-point"):
        wgpu_lstm.LSTM.from_state_dict({**sd, "weight_ih_l0": np.zeros((28, 5), np.int32)})


def test_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.safetensors"):
        wgpu_lstm.LSTM.load(tmp_path / "no_such.safetensors")
    with pytest.raises(OSError, match="directory"):
        wgpu_lstm.LSTM.load(tmp_path)
    big = ONNX_DATA / "torch_dynamo" / "state_dict.safetensors"
    with pytest.raises(OSError, match="limit of 100 bytes"):
        wgpu_lstm.LSTM.load(big, max_file_bytes=100)
    # The hidden model folds its weights through Concat, Split and friends: a budget of 64 bytes
    # stops it, naming the option.
    with pytest.raises(ValueError, match="max-folded-bytes"):
        wgpu_lstm.LSTM.load(ONNX_DATA / "hidden" / "model.onnx", max_folded_bytes=64)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(ValueError, match="safetensors"):
        wgpu_lstm.LSTM.load(garbage)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((ONNX_DATA / "torch_dynamo" / "model.onnx").read_bytes()[:5000])
    with pytest.raises(ValueError):
        wgpu_lstm.LSTM.load(truncated)
    with pytest.raises(ValueError, match="choose with --node|node"):
        wgpu_lstm.LSTM.load(ONNX_DATA / "torch_dynamo" / "model.onnx")
    with pytest.raises(ValueError, match="no LSTM node is called 'nope'"):
        wgpu_lstm.LSTM.load(ONNX_DATA / "torch_dynamo" / "model.onnx", node="nope")
    with pytest.raises(ValueError, match="not an .onnx model"):
        wgpu_lstm.LSTM.load(big, node="x")


def test_devices(sd, lstm):
    with pytest.raises(wgpu_lstm.DeviceError, match="no GPU adapter found.* name containing 'no-such-gpu'"):
        wgpu_lstm.LSTM.from_state_dict(sd, adapter="no-such-gpu")
    with pytest.raises(wgpu_lstm.DeviceError, match="device limit"):
        lstm.stream(1 << 28)
    with pytest.raises(wgpu_lstm.DeviceError, match="device limit"):
        lstm(np.zeros((1, 10_000_000, 5), np.float32))
    with pytest.raises(wgpu_lstm.DeviceError, match="no GPU adapter"):
        wgpu_lstm.conform(1, adapter="no-such-gpu")
