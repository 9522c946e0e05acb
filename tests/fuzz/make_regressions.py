#!/usr/bin/env python3
"""The hostile .onnx models of #29's audit (each under 100 KB), kept as the fuzz harness's
regression corpus: tests/fuzz_onnx.rs runs each through `info` and `run` and checks its exit
status, its one error line (or its result) and a time and memory bound, and seeds its mutations
with them. A crash the harness finds is added here the same way: write the model, then give it
a row in REGRESSIONS of tests/fuzz_onnx.rs.

onnx.checker is not run: most of these models are meant to be wrong. For those onnxruntime runs
(the valid ones), its output Y on X = [[[0.5, -0.5]]] is written to expected/NAME.npy. Run with
onnx 1.23.2, onnxruntime 1.32.0 and numpy (as made the committed files):
    .venv/bin/python tests/fuzz/make_regressions.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "regressions")
# onnxruntime's Y for the models it runs, on the input tests/fuzz_onnx.rs gives.
EXPECTED = os.path.join(HERE, "expected")
X = np.array([[[0.5, -0.5]]], dtype=np.float32)
I, H = 2, 1


def lstm(inputs, name="lstm", domain="", hidden=True):
    """An LSTM node; with hidden_size (which onnxruntime requires) unless `hidden` is False."""
    attributes = {"hidden_size": H} if hidden else {}
    return helper.make_node("LSTM", inputs, ["Y"], name=name, domain=domain, **attributes)


def weights(w="W"):
    rng = np.random.default_rng(0)
    return [
        numpy_helper.from_array(rng.uniform(-1, 1, (1, 4 * H, I)).astype(np.float32), w),
        numpy_helper.from_array(rng.uniform(-1, 1, (1, 4 * H, H)).astype(np.float32), "R"),
    ]


def save(name, nodes, initializers, producer="fuzz", sparse=(), runs=False):
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, I])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializers,
        sparse_initializer=list(sparse),
    )
    model = helper.make_model(graph, producer_name=producer, opset_imports=[helper.make_opsetid("", 17)])
    data = model.SerializeToString()
    assert len(data) < 100_000, (name, len(data))
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    if runs:
        (y,) = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(["Y"], {"X": X})
        np.save(os.path.join(EXPECTED, name + ".npy"), y)


def empty(name, dims):
    return helper.make_tensor(name, TensorProto.FLOAT, dims, [])


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(EXPECTED, exist_ok=True)
    # A chain of 3,500 Identity nodes before W: folding once recursed per node and overflowed.
    chain = [helper.make_node("Identity", ["W0"], ["c0"])]
    chain += [helper.make_node("Identity", [f"c{i - 1}"], [f"c{i}"]) for i in range(1, 3500)]
    save("identity_chain", chain + [lstm(["X", "c3499", "R"])], weights("W0"), runs=True)
    # Concat of a value with itself 4,096 times along a growing axis, twice: 2^12 · 2^12 elements.
    base = numpy_helper.from_array(np.ones((1, 4096), dtype=np.float32), "one")
    grow = [helper.make_node("Concat", ["one"] * 4096, ["g1"], axis=0)]
    grow += [helper.make_node("Concat", ["g1"] * 4096, ["g2"], axis=0)]
    save("concat_bomb", grow + [lstm(["X", "g2", "R"])], weights("unused") + [base])
    # Slice with step -1 of an empty tensor.
    save(
        "slice_empty_step_back",
        [helper.make_node("Slice", ["z", "s", "e", "a", "k"], ["W"]), lstm(["X", "W", "R"])],
        weights("unused") + [empty("z", [0]), ints("s", [-1]), ints("e", [-10]), ints("a", [0]), ints("k", [-1])],
    )
    # [2^62, 0]: zero elements, through Slice, Split, Gather and Concat.
    huge = empty("h", [1 << 62, 0])
    save(
        "zero_element_huge",
        [
            helper.make_node("Slice", ["h", "s", "e"], ["sl"]),
            helper.make_node("Split", ["sl"], ["p", "q"], axis=1),
            helper.make_node("Gather", ["h", "i"], ["g"]),
            helper.make_node("Concat", ["h", "h"], ["W"], axis=1),
            lstm(["X", "W", "R"]),
        ],
        weights("unused") + [huge, ints("s", [0]), ints("e", [1 << 40]), ints("i", [3])],
    )
    # Split sizes whose sum wraps u64, and num_outputs = 2^61.
    x = numpy_helper.from_array(np.zeros(8, dtype=np.float32), "x8")
    save(
        "split_wraps",
        [helper.make_node("Split", ["x8", "sz"], ["W", "b", "c"]), lstm(["X", "W", "R"])],
        weights("unused") + [x, ints("sz", [(1 << 63) - 1, (1 << 63) - 1, 10])],
    )
    save(
        "split_num_outputs",
        [helper.make_node("Split", ["x8"], ["W", "b"], num_outputs=1 << 61), lstm(["X", "W", "R"])],
        weights("unused") + [x],
    )
    # Unsqueeze with 10,000 duplicate axes; Transpose at rank 10,000.
    one = numpy_helper.from_array(np.ones(1, dtype=np.float32), "o")
    save(
        "unsqueeze_axes",
        [helper.make_node("Unsqueeze", ["o", "ax"], ["W"]), lstm(["X", "W", "R"])],
        weights("unused") + [one, ints("ax", [0] * 10000)],
    )
    save(
        "transpose_rank",
        [helper.make_node("Transpose", ["o"], ["W"], perm=list(range(10000))), lstm(["X", "W", "R"])],
        weights("unused") + [one],
    )
    # A node name that forges an error line and a terminal escape.
    save("name_injection", [lstm(["X", "missing", "R"], name="n\nerror: forged\x1b[31m")], weights())
    # clip as INT, activations as one STRING, hidden_size twice.
    bad = {
        "clip_int": [helper.make_attribute("clip", 3)],
        "activations_string": [helper.make_attribute("activations", "Relu")],
        "hidden_size_twice": [helper.make_attribute("hidden_size", 1), helper.make_attribute("hidden_size", 1)],
        # Found by the fuzz harness: 4·H overflowed.
        "hidden_size_huge": [helper.make_attribute("hidden_size", 1 << 62)],
    }
    for name, attributes in bad.items():
        node = lstm(["X", "W", "R"], hidden=not name.startswith("hidden_size"))
        node.attribute.extend(attributes)
        save(name, [node], weights())
    # 2,000 LSTM nodes sharing one W of 2^18 elements (Concat of a 1 KiB initializer): info once
    # folded W again for every node; run without --node lists them (cut, with the count).
    piece = numpy_helper.from_array(np.full((1, 4, 256), 0.01, dtype=np.float32), "piece")
    big_w = [helper.make_node("Concat", ["piece"] * 256, ["Wbig"], axis=2)]
    rw = numpy_helper.from_array(np.zeros((1, 4, 1), dtype=np.float32), "R")
    many = [helper.make_node("LSTM", ["X", "Wbig", "R"], [f"Y{k}"], name=f"l{k}") for k in range(2000)]
    save("many_nodes_share_w", big_w + many, [piece, rw])
    # Valid: an LSTM in domain ai.onnx, and a producer name that puts '{' at byte 8.
    save("domain_ai_onnx", [lstm(["X", "W", "R"], domain="ai.onnx")], weights(), runs=True)
    save("producer_brace", [lstm(["X", "W", "R"])], weights(), producer="abcd{" + "x" * 100, runs=True)
    # Valid: W as a sparse initializer (3 of its 8 values, linear indices).
    values = numpy_helper.from_array(np.array([0.5, -0.25, 0.75], dtype=np.float32), "W")
    indices = numpy_helper.from_array(np.array([0, 3, 7], dtype=np.int64), "W_indices")
    w_sparse = helper.make_sparse_tensor(values, indices, [1, 4 * H, I])
    save("sparse_w", [lstm(["X", "W", "R"])], weights("unused")[1:], sparse=[w_sparse], runs=True)


if __name__ == "__main__":
    main()
