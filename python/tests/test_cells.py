"""wgpu_lstm.GRU and wgpu_lstm.RNN against live references: torch.nn.GRU / nn.RNN (2 layers,
bidirectional, batch_first, relu, lengths) from their state_dicts, and onnxruntime's GRU (both
linear_before_reset modes) and RNN from .onnx models, on the GPU and the CPU; streams, and the
errors of a class that does not match the model."""

import numpy as np
import pytest

import wgpu_lstm
from conftest import ONNX_DATA, assert_close, optional

CELLS = ONNX_DATA / "cells"


def torch_reference(module, x, h0, lens=None, batch_first=False):
    torch = optional("torch")
    with torch.no_grad():
        xt = torch.from_numpy(x)
        if lens is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                xt, torch.tensor(lens), batch_first=batch_first, enforce_sorted=False)
            out, h_n = module(packed, torch.from_numpy(h0))
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])
        else:
            y, h_n = module(xt, torch.from_numpy(h0))
    return y.numpy(), h_n.numpy()


@pytest.mark.parametrize("device", ["gpu", "cpu"])
@pytest.mark.parametrize("kind", ["gru", "rnn_tanh", "rnn_relu"])
def test_matches_torch(kind, device):
    torch = optional("torch")
    torch.manual_seed(3)
    I, H, L, T, B = 5, 7, 2, 6, 3
    if kind == "gru":
        module = torch.nn.GRU(I, H, num_layers=L, bidirectional=True, batch_first=True)
        cls, kwargs = wgpu_lstm.GRU, {}
    else:
        nonlinearity = kind.split("_")[1]
        module = torch.nn.RNN(I, H, num_layers=L, bidirectional=True, batch_first=True, nonlinearity=nonlinearity)
        cls, kwargs = wgpu_lstm.RNN, {"nonlinearity": nonlinearity}
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    h0 = rng.standard_normal((2 * L, B, H)).astype(np.float32)
    lens = [6, 2, 4]
    y_ref, h_ref = torch_reference(module, x, h0, lens, batch_first=True)
    model = cls.from_state_dict({k: v.numpy() for k, v in module.state_dict().items()}, batch_first=True,
                                device=device, **kwargs)
    assert (model.num_layers, model.hidden_size, model.bidirectional) == (L, H, True)
    y, h_n = model(x, h0, seq_lens=lens)
    assert_close(f"{kind} {device} y", y, y_ref)
    assert_close(f"{kind} {device} h_n", h_n, h_ref)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
@pytest.mark.parametrize("model", ["gru_lbr1", "gru_lbr0", "rnn_relu_reverse"])
def test_matches_onnxruntime(model, device):
    """The models of tests/onnx/make_cells.py, run live by onnxruntime here."""
    ort = optional("onnxruntime")
    path = CELLS / f"{model}.onnx"
    x = np.load(CELLS / f"{model}_x.npy")
    lens = np.load(CELLS / f"{model}_lens.npy")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y_ref, h_ref = session.run(None, {"X": x, "lens": lens.astype(np.int32)})
    cls = wgpu_lstm.RNN if model.startswith("rnn") else wgpu_lstm.GRU
    loaded = cls.load(path, device=device)
    assert loaded.convention == "onnx"
    assert loaded.linear_before_reset == (model == "gru_lbr1")
    y, h_n = loaded(x, seq_lens=lens)
    assert_close(f"{model} {device} y", y, y_ref)
    assert_close(f"{model} {device} h_n", h_n, h_ref)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_streams_equal_the_whole_sequence(device):
    torch = optional("torch")
    torch.manual_seed(5)
    module = torch.nn.GRU(4, 6, num_layers=2)
    gru = wgpu_lstm.GRU.from_state_dict({k: v.numpy() for k, v in module.state_dict().items()}, device=device)
    x = np.random.default_rng(6).standard_normal((9, 2, 4)).astype(np.float32)
    y, h_n = gru(x)
    stream = gru.stream(2)
    ys = [stream.step(x[t:t + 4]) for t in range(0, 9, 4)]
    assert_close(f"{device} streamed y", np.concatenate(ys), y)
    assert_close(f"{device} stream state", stream.state, h_n)


def test_a_class_that_does_not_match_the_model_is_refused():
    rng = np.random.default_rng(7)
    gru_sd = {"weight_ih_l0": rng.standard_normal((9, 2)), "weight_hh_l0": rng.standard_normal((9, 3))}
    with pytest.raises(ValueError, match="the model is a GRU, not an LSTM; load it with wgpu_lstm.GRU"):
        wgpu_lstm.LSTM.from_state_dict(gru_sd, device="cpu")
    with pytest.raises(ValueError, match="load it with wgpu_lstm.GRU"):
        wgpu_lstm.RNN.from_state_dict(gru_sd, device="cpu")
    gru = wgpu_lstm.GRU.from_state_dict(gru_sd, device="cpu")
    with pytest.raises(ValueError, match="h0 alone"):
        gru(np.zeros((2, 1, 2), np.float32), (np.zeros((1, 1, 3)), np.zeros((1, 1, 3))))
    with pytest.raises(ValueError, match="nonlinearity: an RNN option"):
        wgpu_lstm.GRU.from_state_dict(gru_sd, nonlinearity="relu", device="cpu")
    assert repr(gru).startswith("GRU(2, 3, num_layers=1")
