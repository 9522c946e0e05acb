"""Outside references, computed live: torch.nn.LSTM in float64 at realistic sizes (H = 128 and
256, T >= 100) and onnxruntime at the same sizes, under the error model of
docs/conformance.md rather than one loose tolerance; and an outside reference for each feature
whose other checks compare the project with itself: a bidirectional model streamed chunk by
chunk (torch runs each chunk as the docs define it), f16 weights (torch runs the weights rounded
as the docs say the engine holds them), and stacked layers with peepholes (onnxruntime runs the
same chain of ONNX LSTM nodes). torch is required where WGPU_LSTM_REQUIRE_OPTIONAL is set (CI)."""

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import wgpu_lstm
from conftest import optional
from test_onnxruntime import lstm_model

U = 2.0**-24  # f32's unit roundoff


def error_bound(k, layers, steps):
    """ErrorBound::for_model: atol = 3·u·√K·L, rtol = 12·u·√T (K the widest gate sum)."""
    return 3 * U * math.sqrt(k) * layers, 12 * U * math.sqrt(steps)


def assert_within(name, got, expected, bound, factor=1.0):
    """|got − expected| <= factor·(atol + rtol·|expected|) everywhere; a failure names the worst
    element and its ratio to the bound."""
    atol, rtol = bound
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, f"{name}: shape {got.shape}, expected {expected.shape}"
    ratio = np.abs(got - expected) / (factor * (atol + rtol * np.abs(expected)))
    worst = np.unravel_index(np.argmax(ratio), ratio.shape)
    print(f"{name}: worst {ratio[worst]:.3f} of the bound")
    assert ratio[worst] <= 1.0, (
        f"{name}: {ratio[worst]:.3f} of the bound at {tuple(int(i) for i in worst)} "
        f"(got {got[worst]!r}, expected {expected[worst]!r}; atol {atol:.2e}, rtol {rtol:.2e}, ×{factor})"
    )


def torch_lstm(seed, input_size, hidden, layers=1, bidirectional=False, batch_first=False):
    torch = optional("torch")
    torch.manual_seed(seed)
    module = torch.nn.LSTM(input_size, hidden, layers, bidirectional=bidirectional, batch_first=batch_first)
    state_dict = {k: v.detach().numpy().astype(np.float32) for k, v in module.state_dict().items()}
    return torch, module.double(), state_dict


SIZES = [
    # (B, T, I, H, layers, bidirectional, batch_first)
    (3, 100, 64, 128, 2, True, True),
    (2, 120, 256, 256, 1, False, False),
]


@pytest.mark.parametrize("device", ["gpu", "cpu"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"B{s[0]}-T{s[1]}-I{s[2]}-H{s[3]}-L{s[4]}")
def test_realistic_sizes_match_torch(size, device):
    b, t, i, h, layers, bidirectional, batch_first = size
    torch, module, sd = torch_lstm(h, i, h, layers, bidirectional, batch_first)
    rng = np.random.default_rng(h)
    d = 2 if bidirectional else 1
    x = rng.uniform(-1, 1, (b, t, i) if batch_first else (t, b, i)).astype(np.float32)
    h0 = rng.uniform(-1, 1, (layers * d, b, h)).astype(np.float32)
    c0 = rng.uniform(-1, 1, (layers * d, b, h)).astype(np.float32)
    with torch.no_grad():
        want_y, (want_h, want_c) = module(
            torch.from_numpy(x).double(), (torch.from_numpy(h0).double(), torch.from_numpy(c0).double())
        )
    lstm = wgpu_lstm.LSTM.from_state_dict(sd, batch_first=batch_first, device=device)
    y, (h_n, c_n) = lstm(x, (h0, c0))
    bound = error_bound(max(i, d * h) + h + 2, layers, t)
    for name, got, want in [("y", y, want_y), ("h_n", h_n, want_h), ("c_n", c_n, want_c)]:
        assert_within(f"{device} {name}", got, want.numpy(), bound)


@pytest.mark.parametrize("h", [128, 256])
def test_realistic_sizes_match_onnxruntime(h, tmp_path):
    """onnxruntime computes in f32 too: the two may each be off by the bound."""
    t, b, i, d = 100, 2, 96, 2
    rng = np.random.default_rng(h + 1)
    s = 1 / math.sqrt(h)
    weights = {
        "W": rng.uniform(-s, s, (d, 4 * h, i)).astype(np.float32),
        "R": rng.uniform(-s, s, (d, 4 * h, h)).astype(np.float32),
        "B": rng.uniform(-s, s, (d, 8 * h)).astype(np.float32),
    }
    attrs = dict(hidden_size=h, direction="bidirectional", layout=0)
    path = tmp_path / f"lstm_{h}.onnx"
    onnx.save(lstm_model(weights, attrs, (t, b, i, h, d), 0), path)
    inputs = {
        "X": rng.uniform(-1, 1, (t, b, i)).astype(np.float32),
        "sequence_lens": rng.integers(t // 2, t + 1, b).astype(np.int32),
        "initial_h": rng.uniform(-1, 1, (d, b, h)).astype(np.float32),
        "initial_c": rng.uniform(-1, 1, (d, b, h)).astype(np.float32),
    }
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)
    lstm = wgpu_lstm.LSTM.load(path)
    y, (h_n, c_n) = lstm(inputs["X"], (inputs["initial_h"], inputs["initial_c"]), inputs["sequence_lens"])
    bound = error_bound(i + h + 2, 1, t)
    for name, got, expected in zip(["Y", "Y_h", "Y_c"], [y, h_n, c_n], want):
        assert_within(f"H={h} {name}", got, expected, bound, factor=2.0)


def test_chunked_bidirectional_stream_matches_torch_per_chunk():
    """Streaming a bidirectional stack defines each chunk's reverse direction within the chunk
    (docs/library.md, Streaming): torch runs each direction of each layer on each chunk, the
    forward from the state the previous chunk left, the reverse over the flipped chunk from the
    reverse state the previous chunk left."""
    b, i, h, layers = 3, 7, 21, 2
    torch, module, sd = torch_lstm(5, i, h, layers, bidirectional=True)
    rng = np.random.default_rng(5)
    chunks = [rng.uniform(-1, 1, (n, b, i)).astype(np.float32) for n in (4, 1, 6)]
    cells = {}
    for layer in range(layers):
        for suffix in ("", "_reverse"):
            cell = torch.nn.LSTM(i if layer == 0 else 2 * h, h).double()
            with torch.no_grad():
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, f"{name}_l0").copy_(torch.from_numpy(sd[f"{name}_l{layer}{suffix}"]).double())
            cells[layer, suffix] = cell
    zeros = torch.zeros(1, b, h, dtype=torch.float64)
    state = {key: (zeros, zeros) for key in cells}
    stream = wgpu_lstm.LSTM.from_state_dict(sd).stream(b)
    bound = error_bound(2 * h + h + 2, layers, sum(len(c) for c in chunks))
    for n, chunk in enumerate(chunks):
        inp = torch.from_numpy(chunk).double()
        with torch.no_grad():
            for layer in range(layers):
                fwd, state[layer, ""] = cells[layer, ""](inp, state[layer, ""])
                rev, state[layer, "_reverse"] = cells[layer, "_reverse"](inp.flip(0), state[layer, "_reverse"])
                inp = torch.cat([fwd, rev.flip(0)], dim=2)
        assert_within(f"chunk {n}", stream.step(chunk), inp.numpy(), bound)
    h_n, c_n = stream.state
    want_h = torch.cat([state[layer, s][0] for layer in range(layers) for s in ("", "_reverse")])
    want_c = torch.cat([state[layer, s][1] for layer in range(layers) for s in ("", "_reverse")])
    assert_within("h_n", h_n, want_h.numpy(), bound)
    assert_within("c_n", c_n, want_c.numpy(), bound)


def f16(a):
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float64)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_f16_weights_match_torch_on_the_rounded_weights(device):
    """weights_precision="f16" holds W, R and the sum of the two biases rounded to f16 (the
    recurrent bias then zero), as LstmWeights::rounded documents: torch runs those values in
    float64."""
    b, t, i, h = 2, 30, 19, 37
    torch, module, sd = torch_lstm(16, i, h, 2, bidirectional=True)
    rounded = {}
    for name, value in sd.items():
        if name.startswith("bias_ih"):
            rounded[name] = f16(value + sd[name.replace("bias_ih", "bias_hh")])
        elif name.startswith("bias_hh"):
            rounded[name] = np.zeros_like(value, np.float64)
        else:
            rounded[name] = f16(value)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in rounded.items()})
    x = np.random.default_rng(16).uniform(-1, 1, (t, b, i)).astype(np.float32)
    with torch.no_grad():
        want, (want_h, want_c) = module(torch.from_numpy(x).double())
    lstm = wgpu_lstm.LSTM.from_state_dict(sd, weights_precision="f16", device=device)
    y, (h_n, c_n) = lstm(x)
    bound = error_bound(2 * h + h + 2, 2, t)
    for name, got, expected in [("y", y, want), ("h_n", h_n, want_h), ("c_n", c_n, want_c)]:
        assert_within(f"{device} f16 {name}", got, expected.numpy(), bound)


def stacked_peephole_model(path, layers, rng, t, b, i, h):
    """A chain of bidirectional ONNX LSTM nodes with peepholes, each layer's Y [T, 2, B, H]
    transposed and reshaped into the next one's X [T, B, 2H]."""
    nodes, inits = [], []
    x = "X"
    for layer in range(layers):
        width = i if layer == 0 else 2 * h
        s = 1 / math.sqrt(h)
        for name, shape in [("W", (2, 4 * h, width)), ("R", (2, 4 * h, h)), ("B", (2, 8 * h)), ("P", (2, 3 * h))]:
            value = rng.uniform(-s if name != "P" else -0.5, s if name != "P" else 0.5, shape).astype(np.float32)
            inits.append(helper.make_tensor(f"{name}{layer}", TensorProto.FLOAT, shape, value.flatten()))
        y = f"Y{layer}"
        nodes.append(
            helper.make_node(
                "LSTM",
                [x, f"W{layer}", f"R{layer}", f"B{layer}", "", "", "", f"P{layer}"],
                [y],
                name=f"lstm{layer}",
                hidden_size=h,
                direction="bidirectional",
            )
        )
        if layer + 1 < layers:
            nodes.append(helper.make_node("Transpose", [y], [f"{y}t"], perm=[0, 2, 1, 3]))
            inits.append(helper.make_tensor(f"shape{layer}", TensorProto.INT64, [3], [t, b, 2 * h]))
            nodes.append(helper.make_node("Reshape", [f"{y}t", f"shape{layer}"], [f"X{layer + 1}"]))
            x = f"X{layer + 1}"
    graph = helper.make_graph(
        nodes,
        "stacked_peepholes",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [t, b, i])],
        [helper.make_tensor_value_info(f"Y{layers - 1}", TensorProto.FLOAT, [t, 2, b, h])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_stacked_peepholes_match_onnxruntime(device, tmp_path):
    """Peepholes in a stack exist in no single ONNX LSTM node or torch module: onnxruntime runs
    the chain of nodes, wgpu_lstm stacks the same nodes (`node=[...]`)."""
    t, b, i, h, layers = 17, 3, 11, 26, 3
    path = tmp_path / "stacked.onnx"
    stacked_peephole_model(path, layers, np.random.default_rng(3), t, b, i, h)
    x = np.random.default_rng(4).uniform(-1, 1, (t, b, i)).astype(np.float32)
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"X": x})
    lstm = wgpu_lstm.LSTM.load(path, node=[f"lstm{k}" for k in range(layers)], device=device)
    assert lstm.num_layers == layers
    y, _ = lstm(x)
    assert_within(f"{device} stacked peepholes y", y, want, error_bound(2 * h + h + 2, layers, t), factor=2.0)
