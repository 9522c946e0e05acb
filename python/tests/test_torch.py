"""The API against torch.nn.LSTM: goldens made by make_torch_goldens.py (float64 torch on
float32 weights and inputs), loaded from the module's state_dict, on the GPU and the CPU."""

import numpy as np
import pytest

import wgpu_lstm
from conftest import GOLDENS, assert_close, optional

CASES = sorted(GOLDENS.glob("*.npz"))


def load(path):
    data = np.load(path)
    sd = {k[3:]: data[k] for k in data.files if k.startswith("sd.")}
    args = {k[5:]: data[k].item() for k in data.files if k.startswith("args.")}
    return data, sd, args


def test_goldens_exist():
    assert len(CASES) >= 4, f"no goldens in {GOLDENS}"


@pytest.mark.parametrize("device", ["gpu", "cpu"])
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_matches_torch(case, device):
    data, sd, args = load(case)
    lstm = wgpu_lstm.LSTM.from_state_dict(sd, batch_first=args.get("batch_first", False), device=device)
    assert lstm.convention == "pytorch"
    assert lstm.input_size == args["input_size"]
    assert lstm.hidden_size == args["hidden_size"]
    assert lstm.num_layers == args.get("num_layers", 1)
    assert lstm.bidirectional == args.get("bidirectional", False)
    assert lstm.proj_size == args.get("proj_size", 0)
    y, (h_n, c_n) = lstm(data["x"], (data["h0"], data["c0"]))
    assert y.dtype == np.float32
    for name, got in [("y", y), ("h_n", h_n), ("c_n", c_n)]:
        assert_close(f"{case.stem} {device} {name}", got, data[name])


class ArrayLikeTensor:
    """What a CPU torch.Tensor offers numpy: __array__ (np.asarray(tensor) calls it)."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


def test_array_likes_are_accepted():
    """A state_dict of tensors (anything np.asarray takes) and inputs of lists or tensors, then
    real CPU torch tensors (torch required in CI, see conftest.optional)."""
    data, sd, _ = load(GOLDENS / "one_layer.npz")
    expected, _ = wgpu_lstm.LSTM.from_state_dict(sd, device="cpu")(data["x"])
    lstm = wgpu_lstm.LSTM.from_state_dict({k: ArrayLikeTensor(v) for k, v in sd.items()})
    assert_close("__array__ state_dict and input", lstm(ArrayLikeTensor(data["x"]))[0], expected)
    assert_close("nested lists", lstm(data["x"].tolist())[0], expected)
    torch = optional("torch")
    lstm = wgpu_lstm.LSTM.from_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    assert_close("torch tensors", lstm(torch.from_numpy(data["x"]).double())[0], expected)


def test_float64_input_is_converted():
    data, sd, _ = load(GOLDENS / "one_layer.npz")
    lstm = wgpu_lstm.LSTM.from_state_dict(sd)
    y64, _ = lstm(data["x"].astype(np.float64), (data["h0"].astype(np.float64), data["c0"]))
    y32, _ = lstm(data["x"], (data["h0"], data["c0"]))
    assert y64.dtype == np.float32
    np.testing.assert_array_equal(y64, y32)
