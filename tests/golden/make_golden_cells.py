#!/usr/bin/env python3
"""Golden cases of the GRU and RNN cells for tests/golden.rs, computed by outside implementations.

PyTorch-convention cases come from torch.nn.GRU and torch.nn.RNN (packed sequences for lengths);
ONNX-convention cases from onnxruntime's CPU GRU and RNN kernels. The layout of a case is
make_golden.py's; cells without a cell state have no c0.npy and no expected_c_n.npy.

Set-up and run (versions used: torch 2.15.0, onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6,
safetensors 0.8.0):
    python3 -m venv /tmp/golden && /tmp/golden/bin/pip install numpy onnx onnxruntime safetensors torch
    /tmp/golden/bin/python tests/golden/make_golden_cells.py
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
    """A case folder as make_golden.py writes one."""
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    weights_fn(os.path.join(d, "weights.safetensors"))
    for k, v in arrays.items():
        np.save(os.path.join(d, k + ".npy"), v)
    with open(os.path.join(d, "args"), "w") as f:
        f.write(args + "\n")
    print(name, {k: v.shape for k, v in arrays.items()})


def torch_case(name, module, I, H, L, bidir, T, B, bias=True, batch_first=False, lens=None, init=True,
               nonlinearity=None, seed=0):
    torch.manual_seed(seed)
    kwargs = {"nonlinearity": nonlinearity} if nonlinearity else {}
    net = module(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidir, **kwargs)
    D = 2 if bidir else 1
    x = torch.randn(B, T, I) if batch_first else torch.randn(T, B, I)
    h0 = torch.randn(L * D, B, H) if init else torch.zeros(L * D, B, H)
    with torch.no_grad():
        if lens is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.tensor(lens), batch_first=batch_first, enforce_sorted=False)
            out, hn = net(packed, h0)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        else:
            y, hn = net(x, h0)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    arrays = {"x": x.numpy(), "expected_y": y.numpy(), "expected_h_n": hn.numpy()}
    if init:
        arrays["h0"] = h0.numpy()
    if lens is not None:
        arrays["lens"] = np.array(lens, dtype=np.int64)
    args = []
    if batch_first:
        args.append("--batch-first")
    if nonlinearity == "relu":
        args += ["--activations", ",".join(["Relu"] * D)]
    write_case(name, lambda p: save_torch(state, p), arrays, " ".join(args))


def onnx_case(name, op, I, H, bidir, T, B, bias=True, lens=None, init=True, layout=0, seed=0,
              direction=None, args="", **attrs):
    rng = np.random.default_rng(seed)
    G = {"GRU": 3, "RNN": 1}[op]
    D = 2 if bidir else 1
    direction = direction or ("bidirectional" if bidir else "forward")
    s = 1 / np.sqrt(H)
    W = rng.uniform(-s, s, (D, G * H, I)).astype(np.float32)
    R = rng.uniform(-s, s, (D, G * H, H)).astype(np.float32)
    Bias = rng.uniform(-s, s, (D, 2 * G * H)).astype(np.float32) if bias else None
    X = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((D, B, H)).astype(np.float32) if init else None
    # onnxruntime's CPU GRU and RNN refuse layout 1, which the operator defines as the transpose
    # of layout 0: the reference runs layout 0 and its inputs and outputs are transposed.
    inputs = {"X": X, "W": W, "R": R}
    names = ["X", "W", "R", "B" if bias else "", "sequence_lens" if lens is not None else "",
             "initial_h" if init else ""]
    while names[-1] == "":
        names.pop()
    if bias:
        inputs["B"] = Bias
    if lens is not None:
        inputs["sequence_lens"] = np.array(lens, dtype=np.int32)
    if init:
        inputs["initial_h"] = h0
    types = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}
    node = helper.make_node(op, names, ["Y", "Y_h"], hidden_size=H, direction=direction, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(k, types[v.dtype], list(v.shape)) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ["Y", "Y_h"]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y, y_h = sess.run(None, inputs)
    if layout == 1:
        # X [T,B,I] -> [B,T,I]; Y [T,D,B,H] -> [B,T,D,H]; initial_h and Y_h [D,B,H] -> [B,D,H].
        X = np.ascontiguousarray(X.transpose(1, 0, 2))
        h0 = None if h0 is None else np.ascontiguousarray(h0.transpose(1, 0, 2))
        y = np.ascontiguousarray(y.transpose(2, 0, 1, 3))
        y_h = np.ascontiguousarray(y_h.transpose(1, 0, 2))
    weights = {"W": W, "R": R}
    if bias:
        weights["B"] = Bias
    arrays = {"x": X, "expected_y": y, "expected_h_n": y_h}
    if init:
        arrays["h0"] = h0
    if lens is not None:
        arrays["lens"] = np.array(lens, dtype=np.int64)
    flags = [args] if args else []
    if layout == 1:
        flags.append("--batch-first")
    if direction == "reverse":
        flags += ["--direction", "reverse"]
    if attrs.get("linear_before_reset"):
        flags.append("--linear-before-reset")
    if "clip" in attrs:
        flags += ["--clip", repr(attrs["clip"])]
    if "activations" in attrs:
        flags += ["--activations", ",".join(attrs["activations"])]
    for key, flag in [("activation_alpha", "--activation-alpha"), ("activation_beta", "--activation-beta")]:
        if key in attrs:
            flags += [flag, ",".join(repr(v) for v in attrs[key])]
    write_case(name, lambda p: save_np(weights, p), arrays, " ".join(flags))


torch_case("torch_gru_2layer_bidir_lens", torch.nn.GRU, 5, 7, 2, True, 6, 3, lens=[6, 2, 4], seed=1)
torch_case("torch_gru_batch_first_no_bias", torch.nn.GRU, 4, 9, 1, False, 5, 2, bias=False,
           batch_first=True, init=False, seed=2)
torch_case("torch_rnn_relu_2layer_bidir_batch_first", torch.nn.RNN, 3, 6, 2, True, 7, 2,
           batch_first=True, nonlinearity="relu", seed=3)
torch_case("torch_rnn_tanh_lens", torch.nn.RNN, 6, 5, 1, False, 5, 3, lens=[5, 1, 3], seed=4)
onnx_case("onnx_gru_lbr1_bidir_lens", "GRU", 5, 6, True, 6, 3, lens=[6, 3, 1], seed=5, linear_before_reset=1)
onnx_case("onnx_gru_lbr0_bidir_lens", "GRU", 5, 6, True, 6, 3, lens=[6, 3, 1], seed=6)
onnx_case("onnx_gru_lbr0_reverse_no_bias", "GRU", 3, 4, False, 5, 2, bias=False, seed=7, direction="reverse")
onnx_case("onnx_gru_lbr1_layout1_clip_activations", "GRU", 4, 5, True, 5, 2, layout=1, seed=8,
          linear_before_reset=1, clip=1.2, activations=["HardSigmoid", "LeakyRelu", "Sigmoid", "Softsign"],
          activation_alpha=[0.3, 0.05], activation_beta=[0.4])
onnx_case("onnx_rnn_bidir_lens_clip", "RNN", 4, 6, True, 5, 3, lens=[5, 2, 4], seed=9, clip=0.9)
onnx_case("onnx_rnn_reverse_activations", "RNN", 3, 5, False, 4, 2, seed=10, direction="reverse",
          activations=["ScaledTanh"], activation_alpha=[0.8], activation_beta=[1.3])


# The ONNX backend suite's GRU and RNN node tests (defaults, initial bias, sequence lengths,
# batchwise, reverse, bidirectional), with their own inputs and expected outputs (computed by
# onnx's numpy reference), captured from onnx's test case definitions.
import onnx.backend.test.case.node.gru as onnx_gru_cases  # noqa: E402
import onnx.backend.test.case.node.rnn as onnx_rnn_cases  # noqa: E402


def capture_backend_case(module, export):
    captured = {}

    def expect(node, inputs, outputs, name):
        captured.update(node=node, inputs=inputs, outputs=outputs, name=name)

    module.expect = expect
    export()
    node = captured["node"]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    named = dict(zip(node.input, captured["inputs"]))
    arrays = {"x": named["X"].astype(np.float32)}
    if "initial_h" in named:
        arrays["h0"] = named["initial_h"].astype(np.float32)
    if "sequence_lens" in named:
        arrays["lens"] = named["sequence_lens"].astype(np.int32)
    for out_name, value in zip([o for o in node.output if o], captured["outputs"]):
        arrays[{"Y": "expected_y", "Y_h": "expected_h_n"}[out_name]] = value.astype(np.float32)
    tensors = {k: named[k].astype(np.float32) for k in ["W", "R", "B"] if k in named}
    flags = []
    if attrs.get("layout", 0) == 1:
        flags.append("--batch-first")
    if attrs.get("direction", b"forward") == b"reverse":
        flags += ["--direction", "reverse"]
    if attrs.get("linear_before_reset", 0):
        flags.append("--linear-before-reset")
    write_case(captured["name"], lambda p: save_np(tensors, p), arrays, " ".join(flags))


for module, op in [(onnx_gru_cases, onnx_gru_cases.GRU), (onnx_rnn_cases, onnx_rnn_cases.RNN)]:
    for export in [op.export_defaults, op.export_initial_bias, op.export_seq_length, op.export_batchwise,
                   op.export_reverse, op.export_bidirectional]:
        capture_backend_case(module, export)
