#!/usr/bin/env python3
"""What users run today for many live streams, the peer of `wgpu-lstm bench --streams`
(scripts/compare-peers.sh --streams): onnxruntime on the CPU (all cores), an LSTM of one layer
stepped one timestep per tick for N streams, each with its own state, random weights,
  - per stream: one session.run per stream per tick (the usual one-session-per-stream setup);
  - batched: one session.run over all N streams per tick.
usage: ort_streams_time.py I H N[,N...]
prints per N: 'ort_streams N=<n>: per-stream p50 <ms> p99 <ms> batched p50 <ms> p99 <ms>' (ms per tick)"""
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

I, H = int(sys.argv[1]), int(sys.argv[2])
counts = [int(n) for n in sys.argv[3].split(",")]
rng = np.random.default_rng(0)
s = 1 / np.sqrt(H)
W = rng.uniform(-s, s, (1, 4 * H, I)).astype(np.float32)
R = rng.uniform(-s, s, (1, 4 * H, H)).astype(np.float32)
bias = rng.uniform(-s, s, (1, 8 * H)).astype(np.float32)
inits = [helper.make_tensor(n, TensorProto.FLOAT, v.shape, v.ravel()) for n, v in [("W", W), ("R", R), ("B", bias)]]
node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "h0", "c0"], ["Y", "Y_h", "Y_c"], hidden_size=H)
info = helper.make_tensor_value_info
g = helper.make_graph(
    [node], "g",
    [info("X", TensorProto.FLOAT, [1, None, I]), info("h0", TensorProto.FLOAT, [1, None, H]),
     info("c0", TensorProto.FLOAT, [1, None, H])],
    [info(n, TensorProto.FLOAT, None) for n in ["Y", "Y_h", "Y_c"]],
    initializer=inits,
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
m.ir_version = 8
sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])


def ticks(n, tick, budget_s=10.0):
    """ms per tick over at least 5 ticks (up to 50, within the budget), p50 and p99."""
    tick()
    ms, deadline = [], time.time() + budget_s
    while len(ms) < 5 or (len(ms) < 50 and time.time() < deadline):
        t = time.perf_counter()
        tick()
        ms.append((time.perf_counter() - t) * 1e3)
    ms.sort()
    return ms[len(ms) // 2], ms[min(len(ms) - 1, round((len(ms) - 1) * 0.99))]


for n in counts:
    x = rng.uniform(-1, 1, (1, n, I)).astype(np.float32)
    h = np.zeros((1, n, H), np.float32)
    c = np.zeros((1, n, H), np.float32)

    def per_stream():
        for b in range(n):
            _, hb, cb = sess.run(None, {"X": x[:, b : b + 1], "h0": h[:, b : b + 1], "c0": c[:, b : b + 1]})
            h[:, b : b + 1], c[:, b : b + 1] = hb, cb

    def batched():
        global h, c
        _, h, c = sess.run(None, {"X": x, "h0": h, "c0": c})

    one = ticks(n, per_stream)
    all_ = ticks(n, batched)
    print(f"ort_streams N={n}: per-stream p50 {one[0]:.3f} p99 {one[1]:.3f} batched p50 {all_[0]:.3f} p99 {all_[1]:.3f}")
