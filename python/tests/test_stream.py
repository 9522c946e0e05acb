"""Streams: chunk by chunk equals the whole sequence, lengths of 0 keep a stream's state, reset
zeroes the chosen streams, and the state reads back as h_n/c_n."""

import numpy as np
import pytest

import wgpu_lstm
from conftest import GOLDENS, assert_close


def model(device, name="one_layer"):
    data = np.load(GOLDENS / f"{name}.npz")
    sd = {k[3:]: data[k] for k in data.files if k.startswith("sd.")}
    batch_first = bool(data["args.batch_first"]) if "args.batch_first" in data.files else False
    return data, wgpu_lstm.LSTM.from_state_dict(sd, batch_first=batch_first, device=device)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
@pytest.mark.parametrize("chunks", [[1] * 9, [4, 5], [2, 3, 4], [9]])
def test_chunks_equal_whole(device, chunks):
    data, lstm = model(device, "projection" if device == "gpu" else "one_layer")
    x, hx = data["x"], (data["h0"], data["c0"])
    y, (h_n, c_n) = lstm(x, hx)
    stream = lstm.stream(x.shape[1], hx)
    assert stream.batch == x.shape[1]
    ys, start = [], 0
    for n in chunks:
        ys.append(stream.step(x[start : start + n]))
        start += n
    if start < x.shape[0]:
        ys.append(stream.step(x[start:]))
    assert_close(f"{device} {chunks} y", np.concatenate(ys), y)
    h, c = stream.state
    assert_close(f"{device} {chunks} h", h, h_n)
    assert_close(f"{device} {chunks} c", c, c_n)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_zero_lengths_keep_state_and_reset_zeroes(device):
    data, lstm = model(device)
    x = data["x"][:, :3]
    stream = lstm.stream(3)
    stream.step(x[:4])
    h_before, c_before = stream.state
    y = stream.step(x[4:6], lens=[2, 0, 1])
    h_after, c_after = stream.state
    np.testing.assert_array_equal(h_after[:, 1], h_before[:, 1])
    np.testing.assert_array_equal(c_after[:, 1], c_before[:, 1])
    assert not np.any(y[:, 1]), "a stream with no steps in a chunk gets zero rows of y"
    assert not np.any(y[1:, 2])
    # Reset stream 0 only: it then runs like a fresh stream, the others carry on.
    stream.reset([0])
    h, c = stream.state
    assert not np.any(h[:, 0]) and not np.any(c[:, 0])
    np.testing.assert_array_equal(h[:, 1:], h_after[:, 1:])
    y_fresh, _ = lstm(x[6:9, :1])
    assert_close(f"{device} after reset", stream.step(x[6:9])[:, :1], y_fresh)
    stream.reset()
    assert not np.any(stream.state[0])
    with pytest.raises(ValueError, match="streams"):
        stream.reset([3])


def test_bidirectional_stream_runs_reverse_within_chunk():
    data, lstm = model("gpu", "two_layers_bidirectional_batch_first")
    x = data["x"]  # batch-first
    stream = lstm.stream(x.shape[0])
    y_whole_chunk = stream.step(x)
    y, _ = lstm(x)
    assert_close("one chunk = whole", y_whole_chunk, y)
