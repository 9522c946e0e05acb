#!/usr/bin/env python3
"""ONNX models with GRU and RNN nodes for tests/cells.rs, with onnxruntime's outputs.

Each model keeps its weights as initializers; X and sequence_lens (int32, as the operators
require) are graph inputs, initial_h a constant initializer in the GRU models. `mixed.onnx` holds
an LSTM, a GRU (linear_before_reset 1) and an RNN node side by side, each fed by X, for --node.

Set-up and run (versions used: onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6):
    python3 -m venv /tmp/cells && /tmp/cells/bin/pip install numpy onnx onnxruntime
    /tmp/cells/bin/python tests/onnx/make_cells.py
"""
import os

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper, save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cells")
T, B, I, H = 7, 3, 5, 6
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def node_parts(op, name, rng, D, direction, lens_dtype=None, initial=False, **attrs):
    G = GATES[op]
    s = 1 / np.sqrt(H)
    inits = [
        numpy_helper.from_array(rng.uniform(-s, s, (D, G * H, I)).astype(np.float32), f"{name}_W"),
        numpy_helper.from_array(rng.uniform(-s, s, (D, G * H, H)).astype(np.float32), f"{name}_R"),
        numpy_helper.from_array(rng.uniform(-s, s, (D, 2 * G * H)).astype(np.float32), f"{name}_B"),
    ]
    inputs = ["X", f"{name}_W", f"{name}_R", f"{name}_B", "lens" if lens_dtype else ""]
    if initial:
        inits.append(numpy_helper.from_array(rng.standard_normal((D, B, H)).astype(np.float32), f"{name}_h0"))
        inputs.append(f"{name}_h0")
    outputs = [f"{name}_Y", f"{name}_Y_h"]
    node = helper.make_node(op, inputs, outputs, name=name, hidden_size=H, direction=direction, **attrs)
    return node, inits, outputs


def save_model(file, nodes, inits, outputs, lens_dtype, x, lens):
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])]
    feeds = {"X": x}
    if lens_dtype is not None:
        graph_inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [B]))
        feeds["lens"] = lens.astype(lens_dtype)
    graph = helper.make_graph(nodes, "cells", graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    save(model, os.path.join(OUT, file + ".onnx"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(outputs, sess.run(None, feeds)))


def single(file, op, seed, D=2, direction="bidirectional", lens_dtype=np.int32, initial=True, **attrs):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    lens = np.array([T, 3, 1])
    node, inits, outputs = node_parts(op, "n", rng, D, direction, lens_dtype, initial, **attrs)
    got = save_model(file, [node], inits, outputs, lens_dtype, x, lens)
    np.save(os.path.join(OUT, file + "_x.npy"), x)
    np.save(os.path.join(OUT, file + "_lens.npy"), lens.astype(np.int64))
    np.save(os.path.join(OUT, file + "_y.npy"), got["n_Y"])
    np.save(os.path.join(OUT, file + "_h_n.npy"), got["n_Y_h"])
    print(file, {k: v.shape for k, v in got.items()})


os.makedirs(OUT, exist_ok=True)
single("gru_lbr1", "GRU", 1, linear_before_reset=1, clip=2.5)
single("gru_lbr0", "GRU", 2, lens_dtype=np.int32, activations=["Sigmoid", "Tanh", "HardSigmoid", "Softsign"])
single("rnn_relu_reverse", "RNN", 3, D=1, direction="reverse", initial=False, activations=["Relu"])

rng = np.random.default_rng(4)
x = rng.standard_normal((T, B, I)).astype(np.float32)
parts = [node_parts(op, op.lower(), rng, 1, "forward", **({"linear_before_reset": 1} if op == "GRU" else {}))
         for op in ["LSTM", "GRU", "RNN"]]
got = save_model("mixed", [p[0] for p in parts], [i for p in parts for i in p[1]],
                 [o for p in parts for o in p[2]], None, x, None)
np.save(os.path.join(OUT, "mixed_x.npy"), x)
for op in ["lstm", "gru", "rnn"]:
    np.save(os.path.join(OUT, f"mixed_{op}_y.npy"), got[f"{op}_Y"])
print("mixed", {k: v.shape for k, v in got.items()})
