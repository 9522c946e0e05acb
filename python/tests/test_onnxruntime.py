"""The API against onnxruntime on random ONNX-convention models: each model is an ONNX graph
with one LSTM node (random direction, layout, clip, input_forget, activations, peepholes,
biases) whose initial state and sequence lengths are graph inputs; wgpu_lstm loads the .onnx
file itself and, separately, its W/R/B/P as a state_dict with the attributes as arguments."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import wgpu_lstm
from conftest import assert_close

# Activations whose outputs stay continuous and bounded enough for one tolerance (ThresholdedRelu
# is left out: a value at its threshold could fall either side).
F_ACTS = [("Sigmoid", []), ("HardSigmoid", [0.25, 0.4]), ("Softsign", [])]
GH_ACTS = [("Tanh", []), ("Softsign", []), ("ScaledTanh", [0.9, 1.3]), ("Elu", [0.7]), ("LeakyRelu", [0.05])]
SEEDS = range(12)


def random_model(seed, tmp_path):
    rng = np.random.default_rng(seed)
    direction = ["forward", "reverse", "bidirectional"][seed % 3]
    d = 2 if direction == "bidirectional" else 1
    t, b, i, h = (int(rng.integers(1, 12)), int(rng.integers(1, 6)), int(rng.integers(1, 20)), int(rng.integers(1, 40)))
    layout = int(seed % 4 == 1)
    attrs = dict(hidden_size=h, direction=direction, layout=layout)
    kwargs = dict(direction=direction, batch_first=bool(layout))
    if seed % 2:
        attrs["clip"] = kwargs["clip"] = float(rng.uniform(0.5, 3))
    if seed % 5 == 2:
        attrs["input_forget"] = 1
        kwargs["input_forget"] = True
    if seed % 3 == 1:
        names, alphas, betas = [], [], []
        for _ in range(d):
            for pool in (F_ACTS, GH_ACTS, GH_ACTS):
                name, params = pool[int(rng.integers(len(pool)))]
                names.append(name)
                if params:
                    alphas.append(params[0])
                if len(params) > 1:
                    betas.append(params[1])
        attrs["activations"] = kwargs["activations"] = names
        if alphas:
            attrs["activation_alpha"] = kwargs["activation_alpha"] = alphas
        if betas:
            attrs["activation_beta"] = kwargs["activation_beta"] = betas
    weights = {
        "W": rng.uniform(-0.6, 0.6, (d, 4 * h, i)).astype(np.float32),
        "R": rng.uniform(-0.6, 0.6, (d, 4 * h, h)).astype(np.float32),
    }
    if seed % 4 != 3:
        weights["B"] = rng.uniform(-0.5, 0.5, (d, 8 * h)).astype(np.float32)
    if seed % 3 == 0:
        weights["P"] = rng.uniform(-0.5, 0.5, (d, 3 * h)).astype(np.float32)
    x_shape = [b, t, i] if layout else [t, b, i]
    state_shape = [b, d, h] if layout else [d, b, h]
    inputs = {
        "X": rng.uniform(-1, 1, x_shape).astype(np.float32),
        "sequence_lens": rng.integers(1, t + 1, b).astype(np.int32),
        "initial_h": rng.uniform(-1, 1, state_shape).astype(np.float32),
        "initial_c": rng.uniform(-1, 1, state_shape).astype(np.float32),
    }
    path = tmp_path / f"random_{seed}.onnx"
    onnx.save(lstm_model(weights, attrs, (t, b, i, h, d), layout), path)
    return path, weights, kwargs, inputs, attrs, (t, b, i, h, d)


def lstm_model(weights, attrs, sizes, layout):
    """A graph of one LSTM node with the weights as initializers and X, sequence_lens,
    initial_h and initial_c as graph inputs."""
    t, b, i, h, d = sizes
    x_shape = [b, t, i] if layout else [t, b, i]
    state_shape = [b, d, h] if layout else [d, b, h]
    y_shape = [b, t, d, h] if layout else [t, d, b, h]
    node_inputs = ["X", "W", "R", "B" if "B" in weights else "", "sequence_lens", "initial_h", "initial_c"]
    if "P" in weights:
        node_inputs.append("P")
    node = helper.make_node("LSTM", node_inputs, ["Y", "Y_h", "Y_c"], name="lstm", **{**attrs, "layout": layout})
    graph = helper.make_graph(
        [node],
        "random",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape),
            helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [b]),
            helper.make_tensor_value_info("initial_h", TensorProto.FLOAT, state_shape),
            helper.make_tensor_value_info("initial_c", TensorProto.FLOAT, state_shape),
        ],
        [
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, y_shape),
            helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, state_shape),
            helper.make_tensor_value_info("Y_c", TensorProto.FLOAT, state_shape),
        ],
        initializer=[onnx.numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def reference(weights, attrs, sizes, inputs):
    """onnxruntime's Y, Y_h, Y_c. Its CPU LSTM has no layout 1, so a batch-major model is run as
    the same node in layout 0 on transposed inputs, and its outputs transposed back."""
    if not attrs["layout"]:
        return run_ort(lstm_model(weights, attrs, sizes, 0), inputs)
    seq_major = dict(inputs)
    seq_major["X"] = inputs["X"].transpose(1, 0, 2)
    seq_major["initial_h"] = inputs["initial_h"].transpose(1, 0, 2)
    seq_major["initial_c"] = inputs["initial_c"].transpose(1, 0, 2)
    y, y_h, y_c = run_ort(lstm_model(weights, attrs, sizes, 0), seq_major)
    return y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)


def run_ort(model, inputs):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_onnx_models_match_onnxruntime(seed, tmp_path):
    path, weights, kwargs, inputs, attrs, sizes = random_model(seed, tmp_path)
    y_ref, h_ref, c_ref = reference(weights, attrs, sizes, inputs)
    hx = (inputs["initial_h"], inputs["initial_c"])
    lens = inputs["sequence_lens"]
    models = {
        "onnx gpu": wgpu_lstm.LSTM.load(path),
        "onnx cpu": wgpu_lstm.LSTM.load(path, device="cpu"),
        "state_dict gpu": wgpu_lstm.LSTM.from_state_dict(weights, **kwargs),
    }
    for name, lstm in models.items():
        assert lstm.convention == "onnx"
        y, (h, c) = lstm(inputs["X"], hx, seq_lens=lens)
        assert_close(f"seed {seed} {name} Y", y, y_ref)
        assert_close(f"seed {seed} {name} Y_h", h, h_ref)
        assert_close(f"seed {seed} {name} Y_c", c, c_ref)


def test_options_that_contradict_the_node_are_errors(tmp_path):
    path, _, kwargs, _, _, _ = random_model(1, tmp_path)  # layout 1, clip, activations
    with pytest.raises(ValueError, match="clip: 2.0 contradicts the node's clip "):
        wgpu_lstm.LSTM.load(path, clip=2.0)
    with pytest.raises(ValueError, match="batch_first: false contradicts the node's layout 1"):
        wgpu_lstm.LSTM.load(path, batch_first=False)
    with pytest.raises(ValueError, match="activations: .* contradicts the node's"):
        wgpu_lstm.LSTM.load(path, activations=["Tanh" if a != "Tanh" else "Softsign" for a in kwargs["activations"]])
    with pytest.raises(ValueError, match="direction"):
        wgpu_lstm.LSTM.load(path, direction="forward")
    # The node's own values are accepted.
    agreeing = wgpu_lstm.LSTM.load(path, **kwargs)
    assert agreeing.batch_first and agreeing.direction == kwargs["direction"]
