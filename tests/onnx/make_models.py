#!/usr/bin/env python3
"""The .onnx models of tests/onnx.rs, and onnxruntime's outputs for them.

- backend/test_lstm_*: the ONNX backend test cases of the onnx package (its node test generator,
  written as the backend test data is: model.onnx and test_data_set_0/{input,output}_N.pb).
- torch_*: torch.nn.LSTM (2 layers, bidirectional, batch_first) exported by torch.onnx.export,
  with the default (dynamo) exporter and the TorchScript one; state_dict.safetensors holds the
  same weights, x.npy an input, expected_{y,h_n,c_n}.npy onnxruntime's outputs of the whole graph
  (PyTorch shapes).
- hidden/: one LSTM inside an If branch whose W, R, B and P hide behind Slice, Concat, Unsqueeze,
  Transpose, Cast, Split, Gather, Squeeze and Reshape chains over initializers, Constant nodes and
  external data (weights.bin), with every attribute set (bidirectional, per-direction activations
  with alpha/beta, clip, input_forget, layout 1) and sequence_lens and initial_h/c as graph
  inputs; inputs and onnxruntime's outputs as .npy.
- silero/: the LSTM of silero-vad's silero_vad.onnx (the file itself comes from the silero-vad
  wheel: MIT licence, see README.md there), with an input for it and onnxruntime's outputs of
  that LSTM, its weights computed by onnxruntime from the model's own nodes.
- bad/: models each of the loader's errors is made from.

Versions used: torch 2.15.0, onnx 1.23.2, onnxruntime 1.32.0, numpy 2.4.6, safetensors 0.8.0,
silero-vad 6.2.3. Set-up and run:
    python3 -m venv /tmp/onnxgen && /tmp/onnxgen/bin/pip install numpy onnx onnxruntime safetensors torch onnxscript
    /tmp/onnxgen/bin/pip download silero-vad==6.2.3 --no-deps -d /tmp/silero
    /tmp/onnxgen/bin/python tests/onnx/make_models.py /tmp/silero/silero_vad-6.2.3-py3-none-any.whl
"""
import os
import shutil
import sys
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.abspath(__file__))


def fresh(*parts):
    d = os.path.join(ROOT, *parts)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def run_ort(model_path, feeds):
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def backend_cases():
    import onnx.backend.test.case.node as node_test

    for case in node_test.collect_testcases(None):
        if not case.name.startswith("test_lstm"):
            continue
        d = fresh("backend", case.name)
        onnx.save(case.model, os.path.join(d, "model.onnx"))
        inputs, outputs = case.data_sets[0]
        data = os.path.join(d, "test_data_set_0")
        os.makedirs(data)
        for j, x in enumerate(inputs):
            name = case.model.graph.input[j].name
            with open(os.path.join(data, f"input_{j}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, name).SerializeToString())
        for j, y in enumerate(outputs):
            name = case.model.graph.output[j].name
            with open(os.path.join(data, f"output_{j}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(y, name).SerializeToString())
        print(case.name)


def torch_cases():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = torch.randn(3, 11, 5)
    for name, dynamo in [("torch_dynamo", True), ("torch_legacy", False)]:
        d = fresh(name)
        path = os.path.join(d, "model.onnx")
        torch.onnx.export(lstm, (x,), path, dynamo=dynamo, input_names=["x"], output_names=["y", "h_n", "c_n"])
        # Keep the weights in the model file (the dynamo exporter may write them beside it).
        model = onnx.load(path)
        onnx.save(model, path, save_as_external_data=False)
        for extra in os.listdir(d):
            if extra != "model.onnx":
                os.remove(os.path.join(d, extra))
        save_file({k: v.contiguous() for k, v in lstm.state_dict().items()}, os.path.join(d, "state_dict.safetensors"))
        np.save(os.path.join(d, "x.npy"), x.numpy())
        y, h_n, c_n = run_ort(path, {"x": x.numpy()})
        np.save(os.path.join(d, "expected_y.npy"), y)
        np.save(os.path.join(d, "expected_h_n.npy"), h_n)
        np.save(os.path.join(d, "expected_c_n.npy"), c_n)
        print(name, [n.op_type for n in model.graph.node if n.op_type == "LSTM"])


def onnx_gate_blocks(rng, d, h, cols):
    return rng.uniform(-0.5, 0.5, (d, 4 * h, cols)).astype(np.float32)


def hidden_case():
    """Weights behind folding chains, inside an If branch, partly in external data. onnxruntime
    has no layout 1, so its outputs come from the same model with layout 0 on transposed data."""
    d_dir = fresh("hidden")
    model = hidden_model(layout=1)
    path = os.path.join(d_dir, "model.onnx")
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=0, convert_attribute=False)
    rng = np.random.default_rng(8)
    D, H, I, B, T = 2, 6, 5, 3, 9
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    lens = np.array([T, 4, 1], dtype=np.int32)
    h0 = rng.standard_normal((B, D, H)).astype(np.float32)
    c0 = rng.standard_normal((B, D, H)).astype(np.float32)
    seq_major = os.path.join("/tmp", "hidden_layout0.onnx")
    onnx.save(hidden_model(layout=0), seq_major)
    to_seq = lambda a: np.ascontiguousarray(a.transpose(1, 0, 2))
    h_n, c_n = run_ort(seq_major, {"cond": np.array(True), "x": to_seq(x), "lens": lens, "h0": to_seq(h0), "c0": to_seq(c0)})
    for name, array in [("x", x), ("lens", lens), ("h0", h0), ("c0", c0), ("expected_h_n", to_seq(h_n)), ("expected_c_n", to_seq(c_n))]:
        np.save(os.path.join(d_dir, name + ".npy"), array)
    print("hidden", h_n.shape)


def hidden_model(layout):
    rng = np.random.default_rng(7)
    D, H, I, B, T = 2, 6, 5, 3, 9
    W = onnx_gate_blocks(rng, D, H, I)
    R = onnx_gate_blocks(rng, D, H, H)
    Bias = rng.uniform(-0.5, 0.5, (D, 8 * H)).astype(np.float32)
    P = rng.uniform(-0.5, 0.5, (D, 3 * H)).astype(np.float32)

    inits, nodes = [], []

    def const(name, array):
        nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name + "_value")))

    def ints(name, values):
        const(name, np.array(values, dtype=np.int64))

    # W: stored transposed ([I, 4H] per direction) in external data, one direction per
    # initializer, as float16-exact values cast back from float64; then Transpose, Unsqueeze and
    # Concat rebuild [D, 4H, I].
    W16 = W.astype(np.float16).astype(np.float32)
    for k in range(D):
        t = numpy_helper.from_array(W16[k].T.astype(np.float64), f"w_t_{k}")
        inits.append(t)
        nodes.append(helper.make_node("Cast", [f"w_t_{k}"], [f"w_cast_{k}"], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("Transpose", [f"w_cast_{k}"], [f"w_k_{k}"], perm=[1, 0]))
        ints(f"axes_w_{k}", [0])
        nodes.append(helper.make_node("Unsqueeze", [f"w_k_{k}", f"axes_w_{k}"], [f"w_u_{k}"]))
    nodes.append(helper.make_node("Concat", ["w_u_0", "w_u_1"], ["W"], axis=0))

    # R: one initializer [2·D·4H, H] of which the first half is R and the second garbage, cut
    # with Slice, split per direction with Split and put back with Concat of Unsqueezes.
    big = np.concatenate([R.reshape(D * 4 * H, H), rng.uniform(-9, 9, (D * 4 * H, H)).astype(np.float32)])
    inits.append(numpy_helper.from_array(big, "r_big"))
    ints("r_starts", [0])
    ints("r_ends", [D * 4 * H])
    ints("r_axes", [0])
    nodes.append(helper.make_node("Slice", ["r_big", "r_starts", "r_ends", "r_axes"], ["r_flat"]))
    ints("r_split", [4 * H, 4 * H])
    nodes.append(helper.make_node("Split", ["r_flat", "r_split"], ["r_0", "r_1"], axis=0))
    ints("axes_r", [0])
    nodes.append(helper.make_node("Unsqueeze", ["r_0", "axes_r"], ["r_u0"]))
    nodes.append(helper.make_node("Unsqueeze", ["r_1", "axes_r"], ["r_u1"]))
    nodes.append(helper.make_node("Concat", ["r_u0", "r_u1"], ["R"], axis=0))

    # B: a Constant of value_floats, reshaped by a Constant shape.
    nodes.append(helper.make_node("Constant", [], ["b_flat"], value_floats=Bias.reshape(-1).tolist()))
    ints("b_shape", [D, 8 * H])
    nodes.append(helper.make_node("Reshape", ["b_flat", "b_shape"], ["B"]))

    # P: rows gathered from a shuffled [3·D+1, H] initializer, then squeezed and reshaped.
    order = rng.permutation(3 * D + 1)
    rows = np.concatenate([P.reshape(3 * D, H), rng.uniform(-9, 9, (1, H)).astype(np.float32)])
    shuffled = np.empty_like(rows)
    shuffled[order] = rows
    inits.append(numpy_helper.from_array(shuffled[None], "p_shuffled"))
    ints("p_squeeze_axes", [0])
    nodes.append(helper.make_node("Squeeze", ["p_shuffled", "p_squeeze_axes"], ["p_rows"]))
    ints("p_index", [int(order[i]) for i in range(3 * D)])
    nodes.append(helper.make_node("Gather", ["p_rows", "p_index"], ["p_sel"], axis=0))
    ints("p_shape", [D, 3 * H])
    nodes.append(helper.make_node("Reshape", ["p_sel", "p_shape"], ["P"]))

    lstm = helper.make_node(
        "LSTM",
        ["x", "W", "R", "B", "lens", "h0", "c0", "P"],
        ["", "y_h_inner", "y_c_inner"],
        name="hidden_lstm",
        direction="bidirectional",
        hidden_size=H,
        activations=["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "ScaledTanh", "Softsign"],
        activation_alpha=[0.3, 0.8],
        activation_beta=[0.4, 1.1],
        clip=2.5,
        input_forget=0,
        layout=layout,
    )
    # The LSTM and a second output inside the then-branch; the else-branch never runs.
    then_graph = helper.make_graph(
        [lstm, helper.make_node("Identity", ["y_h_inner"], ["then_h"]), helper.make_node("Identity", ["y_c_inner"], ["then_c"])],
        "then",
        [],
        [helper.make_tensor_value_info("then_h", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("then_c", TensorProto.FLOAT, None)],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["h0"], ["else_h"]), helper.make_node("Identity", ["c0"], ["else_c"])],
        "else",
        [],
        [helper.make_tensor_value_info("else_h", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("else_c", TensorProto.FLOAT, None)],
    )
    nodes.append(helper.make_node("If", ["cond"], ["h_n", "c_n"], then_branch=then_graph, else_branch=else_graph, name="branch"))
    graph = helper.make_graph(
        nodes,
        "hidden",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("lens", TensorProto.INT32, [B]),
            helper.make_tensor_value_info("h0", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("c0", TensorProto.FLOAT, None),
        ],
        [helper.make_tensor_value_info("h_n", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("c_n", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def ancestors(graphs, names):
    """The Constant/folding nodes computing `names` (looked up innermost graph first)."""
    producers, inits = {}, {}
    for g in graphs:
        for n in g.node:
            for o in n.output:
                producers[o] = n
        for t in g.initializer:
            inits[t.name] = t
    nodes, used_inits, seen = [], {}, set()

    def visit(name):
        if name in seen or not name:
            return
        seen.add(name)
        if name in inits:
            used_inits[name] = inits[name]
            return
        n = producers[name]
        for i in n.input:
            visit(i)
        if n not in nodes:
            nodes.append(n)

    for name in names:
        visit(name)
    return nodes, list(used_inits.values())


def silero_case(wheel):
    d = fresh("silero")
    with zipfile.ZipFile(wheel) as z:
        with open(os.path.join(d, "silero_vad.onnx"), "wb") as f:
            f.write(z.read("silero_vad/data/silero_vad.onnx"))
    model = onnx.load(os.path.join(d, "silero_vad.onnx"))

    def find(g, chain):
        for n in g.node:
            if n.op_type == "LSTM":
                return n, chain + [g]
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    r = find(a.g, chain + [g])
                    if r:
                        return r
        return None

    lstm, chain = find(model.graph, [])
    # onnxruntime evaluates the model's own nodes that compute W, R and B.
    nodes, inits = ancestors(chain, lstm.input[1:4])
    graph = helper.make_graph(nodes, "weights", [], [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in lstm.input[1:4]], initializer=inits)
    weights_model = helper.make_model(graph, opset_imports=model.opset_import)
    weights_path = os.path.join("/tmp", "silero_weights.onnx")
    onnx.save(weights_model, weights_path)
    W, R, Bias = run_ort(weights_path, {})
    H = R.shape[-1]
    T, B = 50, 2
    rng = np.random.default_rng(3)
    x = rng.standard_normal((T, B, W.shape[-1])).astype(np.float32)
    h0 = (0.5 * rng.standard_normal((1, B, H))).astype(np.float32)
    c0 = (0.5 * rng.standard_normal((1, B, H))).astype(np.float32)
    only = helper.make_model(
        helper.make_graph(
            [helper.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["y", "y_h", "y_c"], hidden_size=H)],
            "lstm",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ["x", "h0", "c0"]],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ["y", "y_h", "y_c"]],
            initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(Bias, "B")],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    only_path = os.path.join("/tmp", "silero_lstm_only.onnx")
    onnx.save(only, only_path)
    y, y_h, y_c = run_ort(only_path, {"x": x, "h0": h0, "c0": c0})
    for name, array in [("x", x), ("h0", h0), ("c0", c0), ("expected_y", y), ("expected_h_n", y_h), ("expected_c_n", y_c)]:
        np.save(os.path.join(d, name + ".npy"), array)
    with open(os.path.join(d, "node"), "w") as f:
        f.write(lstm.name + "\n")
    print("silero", lstm.name, y.shape)


def lstm_graph(extra_nodes, w_name="W", inputs=None, inits=None, attrs=None, name="lstm"):
    H, I = 3, 2
    node = helper.make_node("LSTM", ["x", w_name, "R"], ["y"], hidden_size=H, name=name, **(attrs or {}))
    rng = np.random.default_rng(1)
    R = numpy_helper.from_array(rng.uniform(-1, 1, (1, 4 * H, H)).astype(np.float32), "R")
    graph = helper.make_graph(
        extra_nodes + [node],
        "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)] + (inputs or []),
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[R] + (inits or []),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def bad_cases():
    d = fresh("bad")
    rng = np.random.default_rng(2)
    W = rng.uniform(-1, 1, (1, 12, 2)).astype(np.float32)
    w_init = numpy_helper.from_array(W, "W_src")
    save = lambda name, m: onnx.save(m, os.path.join(d, name + ".onnx"))
    save("missing", lstm_graph([]))
    save("not_foldable", lstm_graph([helper.make_node("Mul", ["W_src", "W_src"], ["W"], name="square")], inits=[w_init]))
    save("not_constant", lstm_graph([], inputs=[helper.make_tensor_value_info("W", TensorProto.FLOAT, None)]))
    save("cyclic", lstm_graph([helper.make_node("Identity", ["W2"], ["W"], name="a"), helper.make_node("Identity", ["W"], ["W2"], name="b")]))
    # hidden_size says 4 while R holds 3.
    m = lstm_graph([], inits=[numpy_helper.from_array(W, "W")])
    for a in m.graph.node[-1].attribute:
        if a.name == "hidden_size":
            a.i = 4
    save("bad_sizes", m)
    # W declares 2^40 elements and holds none.
    huge = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1, 1 << 20, 1 << 20])
    save("too_large", lstm_graph([], inits=[huge]))
    for name, location in [("external_absolute", "/etc/hostname"), ("external_dotdot", "../secret.bin")]:
        t = numpy_helper.from_array(W, "W")
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key="location", value=location)
        save(name, lstm_graph([], inits=[t]))
    save("unknown_attribute", lstm_graph([], inits=[numpy_helper.from_array(W, "W")], attrs={"hidden_layers": 2}))
    # Two LSTM nodes: choosing needs --node.
    two = lstm_graph([], inits=[numpy_helper.from_array(W, "W")])
    second = helper.make_node("LSTM", ["x", "W", "R"], ["y2"], hidden_size=3, name="second")
    two.graph.node.append(second)
    two.graph.output.append(helper.make_tensor_value_info("y2", TensorProto.FLOAT, None))
    save("two_lstms", two)
    print("bad", sorted(os.listdir(d)))


if __name__ == "__main__":
    backend_cases()
    torch_cases()
    hidden_case()
    bad_cases()
    if len(sys.argv) > 1:
        silero_case(sys.argv[1])
