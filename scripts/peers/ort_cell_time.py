#!/usr/bin/env python3
"""Median ms of one forward of an ONNX LSTM, GRU (linear_before_reset = 1, as bench --cell gru
runs it) or RNN node in onnxruntime on the CPU (all cores), random weights: the peer of
`wgpu-lstm bench --cell CELL` (scripts/compare-peers.sh --cell CELL).
usage: ort_cell_time.py CELL B T I H [bidirectional] -> prints 'ort_ms <median>'"""
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

cell = sys.argv[1].upper()
B, T, I, H = map(int, sys.argv[2:6])
D = 2 if len(sys.argv) > 6 else 1
G = {"LSTM": 4, "GRU": 3, "RNN": 1}[cell]
rng = np.random.default_rng(0)
s = 1 / np.sqrt(H)
W = rng.uniform(-s, s, (D, G * H, I)).astype(np.float32)
R = rng.uniform(-s, s, (D, G * H, H)).astype(np.float32)
bias = rng.uniform(-s, s, (D, 2 * G * H)).astype(np.float32)
X = rng.uniform(-1, 1, (T, B, I)).astype(np.float32)
inits = [helper.make_tensor(n, TensorProto.FLOAT, v.shape, v.ravel()) for n, v in [("W", W), ("R", R), ("B", bias)]]
attrs = {"linear_before_reset": 1} if cell == "GRU" else {}
node = helper.make_node(cell, ["X", "W", "R", "B"], ["Y"], hidden_size=H,
                        direction="bidirectional" if D == 2 else "forward", **attrs)
g = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(X.shape))],
                      [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
m.ir_version = 8
sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
for _ in range(2):
    sess.run(None, {"X": X})
ts = []
deadline = time.time() + 10
while len(ts) < 5 or (len(ts) < 50 and time.time() < deadline):
    t = time.perf_counter()
    sess.run(None, {"X": X})
    ts.append((time.perf_counter() - t) * 1e3)
ts.sort()
print(f"ort_ms {ts[len(ts) // 2]:.3f}")
