#!/usr/bin/env python3
"""DynamicQuantizeLSTM models (com.microsoft) made by onnxruntime's own quantizer, for tests/quantized.rs.

A float ONNX LSTM (bidirectional, I=5, H=7, with B, X and int32 sequence_lens as graph inputs) is
quantized by `onnxruntime.quantization.quantize_dynamic` three ways:
- int8_tensor: QInt8 weights, one scale per direction (zero points 0);
- int8_channel: QInt8 weights, one scale per direction and output channel (per_channel=True);
- uint8_asymmetric: not the quantizer's (it makes int8 weights for LSTM whatever weight_type
  says) but the same node written here, uint8 weights quantized asymmetrically per direction
  with numpy, so the zero points are not 0 (onnxruntime's kernel wants one zero point per
  direction).
For each, the reference outputs are onnxruntime's float LSTM run on the weights dequantized here
with numpy, (W_q - zero_point) * scale, transposed back to LSTM's [D, 4H, I] / [D, 4H, H]: what
the engine computes ({name}_y/h_n/c_n.npy). onnxruntime's own kernel on the quantized model also
quantizes X and h to uint8 at every step; its Y is {name}_ort_y.npy, for the distance the docs
report.

Set-up and run (versions used: onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6):
    python3 -m venv /tmp/q && /tmp/q/bin/pip install numpy onnx onnxruntime
    /tmp/q/bin/python tests/onnx/quantized/make_quantized.py
"""
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

OUT = os.path.dirname(os.path.abspath(__file__))
T, B, I, H, D = 6, 2, 5, 7, 2


def float_model(rng):
    s = 1 / np.sqrt(H)
    inits = [
        numpy_helper.from_array(rng.uniform(-s, s, (D, 4 * H, I)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.uniform(-s, s, (D, 4 * H, H)).astype(np.float32), "R"),
        numpy_helper.from_array(rng.uniform(-s, s, (D, 8 * H)).astype(np.float32), "B"),
    ]
    node = helper.make_node(
        "LSTM", ["X", "W", "R", "B", "lens"], ["Y", "Y_h", "Y_c"],
        name="LSTM_quant", hidden_size=H, direction="bidirectional",
    )
    info = helper.make_tensor_value_info
    graph = helper.make_graph(
        [node], "lstm",
        [info("X", TensorProto.FLOAT, [T, B, I]), info("lens", TensorProto.INT32, [B])],
        [info("Y", TensorProto.FLOAT, None), info("Y_h", TensorProto.FLOAT, None),
         info("Y_c", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model


def dequantized(qmodel):
    """The float LSTM of the quantized model's node, its W and R dequantized with numpy."""
    node = next(n for n in qmodel.graph.node if n.op_type == "DynamicQuantizeLSTM")
    values = {t.name: numpy_helper.to_array(t) for t in qmodel.graph.initializer}
    get = lambda i: values[node.input[i]]
    w_q, r_q = get(1).astype(np.float64), get(2).astype(np.float64)
    (ws, wz), (rs, rz) = (get(8), get(9)), (get(10), get(11))
    # Scales and zero points are [D] (per tensor) or [D, 4H] (per output channel).
    per = lambda v: v.reshape(D, 1, -1).astype(np.float64)
    w = ((w_q - per(wz)) * per(ws)).astype(np.float32).transpose(0, 2, 1)
    r = ((r_q - per(rz)) * per(rs)).astype(np.float32).transpose(0, 2, 1)
    model = float_model(np.random.default_rng(0))
    model.graph.ClearField("initializer")
    model.graph.initializer.extend([
        numpy_helper.from_array(np.ascontiguousarray(w), "W"),
        numpy_helper.from_array(np.ascontiguousarray(r), "R"),
        numpy_helper.from_array(get(3), "B"),
    ])
    return model, node


def asymmetric(qmodel):
    """The quantized model's node with uint8 weights quantized asymmetrically per direction from
    the float weights they stand for (zero points in 1..254)."""
    fmodel, node = dequantized(qmodel)
    values = {t.name: numpy_helper.to_array(t) for t in fmodel.graph.initializer}
    inits = [numpy_helper.from_array(values["B"], "B")]
    for name in ["W", "R"]:
        v = values[name].transpose(0, 2, 1)  # [D, K, 4H]: DynamicQuantizeLSTM's layout
        lo, hi = v.min(axis=(1, 2), keepdims=True), v.max(axis=(1, 2), keepdims=True)
        scale = ((hi - lo) / 255).astype(np.float32)
        zero = np.clip(np.round(-lo / scale), 1, 254)
        q = np.clip(np.round(v / scale) + zero, 0, 255).astype(np.uint8)
        inits += [
            numpy_helper.from_array(q, f"{name}_quantized"),
            numpy_helper.from_array(scale.reshape(D), f"{name}_scale"),
            numpy_helper.from_array(zero.astype(np.uint8).reshape(D), f"{name}_zero_point"),
        ]
    qmodel = onnx.ModelProto()
    qmodel.CopyFrom(fmodel)
    qmodel.graph.ClearField("initializer")
    qmodel.graph.initializer.extend(inits)
    qmodel.graph.ClearField("node")
    qmodel.graph.node.extend([node])
    return qmodel


def run(model, x, lens):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x, "lens": lens})


def main():
    rng = np.random.default_rng(20261206)
    base = float_model(rng)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    lens = np.array([T, T - 2], np.int32)
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(base, os.path.join(tmp, "float.onnx"))
        for name, weight_type, per_channel in [
            ("int8_tensor", QuantType.QInt8, False),
            ("int8_channel", QuantType.QInt8, True),
            ("uint8_asymmetric", None, False),
        ]:
            path = os.path.join(OUT, f"{name}.onnx")
            if weight_type is None:
                onnx.save(asymmetric(qmodel), path)
            else:
                quantize_dynamic(os.path.join(tmp, "float.onnx"), path, weight_type=weight_type, per_channel=per_channel)
            qmodel = onnx.load(path)
            fmodel, node = dequantized(qmodel)
            y, y_h, y_c = run(fmodel, x, lens)
            # ONNX's shapes, as `wgpu-lstm run` writes them for an .onnx model: Y [T, D, B, H],
            # Y_h and Y_c [D, B, H].
            np.save(os.path.join(OUT, f"{name}_y.npy"), y)
            np.save(os.path.join(OUT, f"{name}_h_n.npy"), y_h)
            np.save(os.path.join(OUT, f"{name}_c_n.npy"), y_c)
            ort_y = run(qmodel, x, lens)[0]
            np.save(os.path.join(OUT, f"{name}_ort_y.npy"), ort_y)
            print(name, "max |Y of onnxruntime's kernel - Y on the dequantized weights|", float(np.abs(ort_y - y).max()))
    np.save(os.path.join(OUT, "x.npy"), x)
    np.save(os.path.join(OUT, "lens.npy"), lens.astype(np.int64))


if __name__ == "__main__":
    main()
