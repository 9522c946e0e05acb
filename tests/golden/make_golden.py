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
               init=True, dtype=torch.float32, prefix="", x_scale=1.0, w_scale=1.0, seed=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(I, H, num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidir)
    with torch.no_grad():
        for p in lstm.parameters():
            # Round the weights to the stored dtype, so the file and the reference agree exactly.
            p.copy_((p * w_scale).to(dtype).to(torch.float32))
    D = 2 if bidir else 1
    x = torch.randn(B, T, I) if batch_first else torch.randn(T, B, I)
    x = x * x_scale
    h0 = torch.randn(L * D, B, H) if init else torch.zeros(L * D, B, H)
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


def onnx_run(W, R, Bias, X, h0, c0, lens, H, direction):
    inputs = {"X": X, "W": W, "R": R}
    names = ["X", "W", "R", "B" if Bias is not None else "", "sequence_lens" if lens is not None else "",
             "initial_h" if h0 is not None else "", "initial_c" if c0 is not None else ""]
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
    np_to_onnx = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=H, direction=direction)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(k, np_to_onnx[v.dtype], list(v.shape)) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ["Y", "Y_h", "Y_c"]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def onnx_case(name, I, H, bidir, T, B, bias=True, lens=None, init=True, layout=0,
              store=np.float32, x_scale=1.0, w_scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    D = 2 if bidir else 1
    s = w_scale / np.sqrt(H)
    # Round the weights to the stored dtype first, so the file and the reference agree exactly.
    W = rng.uniform(-s, s, (D, 4 * H, I)).astype(store).astype(np.float32)
    R = rng.uniform(-s, s, (D, 4 * H, H)).astype(store).astype(np.float32)
    Bias = rng.uniform(-s, s, (D, 8 * H)).astype(store).astype(np.float32) if bias else None
    X = (rng.standard_normal((T, B, I)) * x_scale).astype(np.float32)
    h0 = rng.standard_normal((D, B, H)).astype(np.float32) if init else None
    c0 = rng.standard_normal((D, B, H)).astype(np.float32) if init else None
    L = np.array(lens, dtype=np.int32) if lens is not None else None
    # onnxruntime's CPU kernel only takes layout 0; layout 1 is the same numbers transposed (ONNX spec).
    Y, Yh, Yc = onnx_run(W, R, Bias, X, h0, c0, L, H, "bidirectional" if bidir else "forward")
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
    write_case(name, lambda p: save_np(tensors, p), {k: np.ascontiguousarray(v) for k, v in arrays.items()},
               "--batch-first" if layout == 1 else "")


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
