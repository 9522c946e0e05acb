#!/usr/bin/env python3
"""Golden cases for tests/golden.rs, computed by outside implementations.

PyTorch-convention cases come from torch.nn.LSTM (packed sequences for lengths); ONNX-convention
cases from onnxruntime's CPU LSTM kernel. Each case is a folder with weights.safetensors, x.npy,
optional h0.npy / c0.npy / lens.npy, the flags `wgpu-lstm run` needs (args), and expected_y.npy,
expected_h_n.npy, expected_c_n.npy in the convention's shapes.

Set-up and run (versions used: torch 2.15.0, onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6,
safetensors 0.8.0):
    python3 -m venv /tmp/golden && /tmp/golden/bin/pip install numpy onnx onnxruntime safetensors torch
    /tmp/golden/bin/python tests/golden/make_golden.py
"""
import os
import numpy as np
import torch
import onnxruntime as ort
from onnx import helper, TensorProto
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file as save_torch

ROOT = os.path.dirname(os.path.abspath(__file__))


def write_case(name, weights_fn, arrays, args=""):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    weights_fn(os.path.join(d, "weights.safetensors"))
    for k, v in arrays.items():
        np.save(os.path.join(d, k + ".npy"), v)
    with open(os.path.join(d, "args"), "w") as f:
        f.write(args + "\n")
    print(name, {k: v.shape for k, v in arrays.items()})


def torch_case(name, I, H, L, bidir, T, B, bias=True, batch_first=False, lens=None,
               init=True, dtype=torch.float32, prefix="", x_scale=1.0, w_scale=1.0, seed=0, proj=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidir,
                         proj_size=proj)
    with torch.no_grad():
        for p in lstm.parameters():
            # Round the weights to the stored dtype, so the file and the reference agree exactly.
            p.copy_((p * w_scale).to(dtype).to(torch.float32))
    D = 2 if bidir else 1
    x = torch.randn(B, T, I) if batch_first else torch.randn(T, B, I)
    x = x * x_scale
    h0 = torch.randn(L * D, B, proj or H) if init else torch.zeros(L * D, B, proj or H)
    c0 = torch.randn(L * D, B, H) if init else torch.zeros(L * D, B, H)
    with torch.no_grad():
        if lens is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.tensor(lens), batch_first=batch_first, enforce_sorted=False)
            out, (hn, cn) = lstm(packed, (h0, c0))
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        else:
            y, (hn, cn) = lstm(x, (h0, c0))
    state = {prefix + k: v.to(dtype).contiguous() for k, v in lstm.state_dict().items()}
    arrays = {"x": x.numpy(), "expected_y": y.numpy(), "expected_h_n": hn.numpy(), "expected_c_n": cn.numpy()}
    if init:
        arrays["h0"] = h0.numpy()
        arrays["c0"] = c0.numpy()
    if lens is not None:
        arrays["lens"] = np.array(lens, dtype=np.int64)
    write_case(name, lambda p: save_torch(state, p), arrays, "--batch-first" if batch_first else "")


def onnx_run(W, R, Bias, X, h0, c0, lens, H, direction, P=None, **attrs):
    inputs = {"X": X, "W": W, "R": R}
    names = ["X", "W", "R", "B" if Bias is not None else "", "sequence_lens" if lens is not None else "",
             "initial_h" if h0 is not None else "", "initial_c" if c0 is not None else "",
             "P" if P is not None else ""]
    while names and names[-1] == "":
        names.pop()
    if Bias is not None:
        inputs["B"] = Bias
    if lens is not None:
        inputs["sequence_lens"] = lens
    if h0 is not None:
        inputs["initial_h"] = h0
    if c0 is not None:
        inputs["initial_c"] = c0
    if P is not None:
        inputs["P"] = P
    np_to_onnx = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=H, direction=direction, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(k, np_to_onnx[v.dtype], list(v.shape)) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ["Y", "Y_h", "Y_c"]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def onnx_case(name, I, H, bidir, T, B, bias=True, lens=None, init=True, layout=0,
              store=np.float32, x_scale=1.0, w_scale=1.0, seed=0, direction=None, peepholes=False,
              clip=None, input_forget=False, activations=None, alpha=None, beta=None):
    rng = np.random.default_rng(seed)
    D = 2 if bidir else 1
    direction = direction or ("bidirectional" if bidir else "forward")
    s = w_scale / np.sqrt(H)
    # Round the weights to the stored dtype first, so the file and the reference agree exactly.
    W = rng.uniform(-s, s, (D, 4 * H, I)).astype(store).astype(np.float32)
    R = rng.uniform(-s, s, (D, 4 * H, H)).astype(store).astype(np.float32)
    Bias = rng.uniform(-s, s, (D, 8 * H)).astype(store).astype(np.float32) if bias else None
    X = (rng.standard_normal((T, B, I)) * x_scale).astype(np.float32)
    h0 = rng.standard_normal((D, B, H)).astype(np.float32) if init else None
    c0 = rng.standard_normal((D, B, H)).astype(np.float32) if init else None
    P = rng.uniform(-s, s, (D, 3 * H)).astype(store).astype(np.float32) if peepholes else None
    L = np.array(lens, dtype=np.int32) if lens is not None else None
    attrs, flags = {}, []
    if direction == "reverse":
        flags.append("--direction reverse")
    if clip is not None:
        attrs["clip"] = clip
        flags.append(f"--clip {clip!r}")
    if input_forget:
        attrs["input_forget"] = 1
        flags.append("--input-forget")
    if activations is not None:
        attrs["activations"] = activations
        flags.append("--activations " + ",".join(activations))
    if alpha is not None:
        attrs["activation_alpha"] = alpha
        flags.append("--activation-alpha " + ",".join(repr(float(a)) for a in alpha))
    if beta is not None:
        attrs["activation_beta"] = beta
        flags.append("--activation-beta " + ",".join(repr(float(b)) for b in beta))
    # onnxruntime's CPU kernel only takes layout 0; layout 1 is the same numbers transposed (ONNX spec).
    Y, Yh, Yc = onnx_run(W, R, Bias, X, h0, c0, L, H, direction, P, **attrs)
    if layout == 1:
        flags.insert(0, "--batch-first")
    arrays = {"x": X, "expected_y": Y, "expected_h_n": Yh, "expected_c_n": Yc}
    if init:
        arrays.update(h0=h0, c0=c0)
    if layout == 1:
        arrays = {
            "x": X.transpose(1, 0, 2), "expected_y": Y.transpose(2, 0, 1, 3),
            "expected_h_n": Yh.transpose(1, 0, 2), "expected_c_n": Yc.transpose(1, 0, 2),
            **({"h0": h0.transpose(1, 0, 2), "c0": c0.transpose(1, 0, 2)} if init else {}),
        }
    if lens is not None:
        arrays["lens"] = np.array(lens, dtype=np.int32)
    tensors = {"W": W.astype(store), "R": R.astype(store)}
    if bias:
        tensors["B"] = Bias.astype(store)
    if peepholes:
        tensors["P"] = P.astype(store)
    write_case(name, lambda p: save_np(tensors, p), {k: np.ascontiguousarray(v) for k, v in arrays.items()},
               " ".join(flags))


torch_case("pt_two_layer_bidir", I=5, H=7, L=2, bidir=True, T=6, B=3)
torch_case("pt_batch_first_lens_f16_prefix", I=4, H=6, L=2, bidir=True, T=5, B=4, batch_first=True,
           lens=[5, 2, 4, 1], dtype=torch.float16, prefix="encoder.lstm.", seed=1)
torch_case("pt_three_layer_no_bias", I=3, H=5, L=3, bidir=False, T=8, B=2, bias=False, init=False, seed=2)
torch_case("pt_bf16_lens", I=6, H=9, L=1, bidir=False, T=7, B=3, lens=[7, 3, 5], dtype=torch.bfloat16, seed=3)
torch_case("pt_saturating", I=3, H=4, L=1, bidir=True, T=4, B=2, x_scale=300.0, w_scale=100.0, seed=4)
onnx_case("onnx_bidir_lens", I=5, H=7, bidir=True, T=6, B=3, lens=[6, 3, 1], seed=5)
onnx_case("onnx_layout1_lens", I=4, H=6, bidir=True, T=5, B=3, lens=[2, 5, 4], layout=1, seed=6)
onnx_case("onnx_forward_no_bias_f64", I=3, H=8, bidir=False, T=9, B=2, bias=False, init=False,
          store=np.float64, seed=7)
onnx_case("onnx_f16", I=5, H=5, bidir=False, T=4, B=2, store=np.float16, seed=8)
onnx_case("onnx_saturating", I=3, H=4, bidir=True, T=4, B=2, x_scale=300.0, w_scale=100.0, seed=9)

# Projections (PyTorch proj_size): h has P values, c has H; layer k>0 takes D·P inputs.
torch_case("pt_proj_two_layer_bidir_lens", I=5, H=7, L=2, bidir=True, T=6, B=3, lens=[6, 2, 4], proj=3, seed=10)
torch_case("pt_proj_batch_first", I=4, H=6, L=1, bidir=False, T=5, B=2, batch_first=True, proj=5, seed=11)

# Every ONNX attribute, from onnxruntime. T > 1 with nonzero initial state throughout.
onnx_case("onnx_reverse_lens", I=4, H=5, bidir=False, T=6, B=3, lens=[6, 1, 3], direction="reverse", seed=12)
onnx_case("onnx_peepholes_bidir_lens", I=5, H=6, bidir=True, T=7, B=3, lens=[7, 4, 2], peepholes=True, seed=13)
onnx_case("onnx_clip", I=4, H=5, bidir=True, T=6, B=2, clip=0.7, x_scale=3.0, seed=14)
onnx_case("onnx_input_forget_lens", I=3, H=4, bidir=False, T=5, B=3, lens=[5, 3, 2], input_forget=True, seed=15)
onnx_case("onnx_layout1_peepholes_clip_forget", I=4, H=5, bidir=True, T=5, B=3, lens=[5, 2, 3], layout=1,
          peepholes=True, clip=1.5, input_forget=True, seed=16)
# All eleven activations, with alpha and beta given where ONNX or onnxruntime need them, and
# different functions per direction.
onnx_case("onnx_activations_relu_affine_scaledtanh", I=3, H=4, bidir=True, T=5, B=2,
          activations=["HardSigmoid", "Relu", "Affine", "Sigmoid", "ScaledTanh", "Softsign"],
          alpha=[0.25, 0.8, 0.6], beta=[0.45, 0.1, 1.2], seed=17)
onnx_case("onnx_activations_leaky_thresholded_elu", I=3, H=4, bidir=False, T=6, B=2,
          activations=["Sigmoid", "LeakyRelu", "ThresholdedRelu"], alpha=[0.3, 0.2], seed=18)
onnx_case("onnx_activations_elu_softplus_tanh", I=3, H=5, bidir=True, T=4, B=3, lens=[4, 2, 3],
          activations=["Sigmoid", "Elu", "Softplus", "HardSigmoid", "Tanh", "Elu"], alpha=[0.7, 0.3, 1.3],
          peepholes=True, seed=19)
onnx_case("onnx_activations_defaults", I=3, H=4, bidir=True, T=5, B=2,
          activations=["HardSigmoid", "LeakyRelu", "Elu", "Sigmoid", "Softsign", "Softplus"], seed=20)
# Saturating inputs through every activation: no NaN, no inf.
onnx_case("onnx_saturating_activations_a", I=3, H=4, bidir=True, T=4, B=2, x_scale=300.0, w_scale=100.0,
          activations=["HardSigmoid", "Softplus", "Elu", "Sigmoid", "ScaledTanh", "Softsign"],
          alpha=[0.2, 1.0, 0.5], beta=[0.5, 0.5], peepholes=True, clip=50.0, seed=21)
onnx_case("onnx_saturating_activations_b", I=3, H=4, bidir=True, T=4, B=2, x_scale=300.0, w_scale=100.0,
          activations=["Sigmoid", "LeakyRelu", "ThresholdedRelu", "Softsign", "Affine", "Relu"],
          alpha=[0.1, 0.5, 0.01], beta=[0.0], seed=22)


# The ONNX backend suite's four LSTM node tests, with their own inputs and expected outputs (they
# list only Y_h, and Y for the batchwise one), captured from onnx's test case definitions.
import onnx.backend.test.case.node.lstm as onnx_lstm_cases


def capture_backend_case(export):
    captured = {}

    def expect(node, inputs, outputs, name):
        captured.update(node=node, inputs=inputs, outputs=outputs, name=name)

    onnx_lstm_cases.expect = expect
    export()
    node = captured["node"]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    layout = attrs.get("layout", 0)
    named = dict(zip(node.input, captured["inputs"]))
    arrays = {"x": named["X"]}
    if "initial_h" in named:
        arrays["h0"], arrays["c0"] = named["initial_h"], named["initial_c"]
    if "sequence_lens" in named:
        arrays["lens"] = named["sequence_lens"].astype(np.int32)
    for out_name, value in zip([o for o in node.output if o], captured["outputs"]):
        arrays[{"Y": "expected_y", "Y_h": "expected_h_n", "Y_c": "expected_c_n"}[out_name]] = value
    tensors = {k: named[k] for k in ["W", "R", "B", "P"] if k in named}
    write_case(captured["name"], lambda p: save_np(tensors, p), arrays, "--batch-first" if layout == 1 else "")


for export in [onnx_lstm_cases.LSTM.export_defaults, onnx_lstm_cases.LSTM.export_initial_bias,
               onnx_lstm_cases.LSTM.export_peepholes, onnx_lstm_cases.LSTM.export_batchwise]:
    capture_backend_case(export)
