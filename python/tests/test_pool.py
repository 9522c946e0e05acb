"""The stream pool from Python: pooled streams equal each stream run alone over its whole
history (LSTM, GRU, RNN, GPU and CPU), bad ids fail cleanly with the other streams unchanged, and
the asyncio front coalesces concurrent callers into steps, failing only a bad caller."""

import asyncio

import numpy as np
import pytest

import wgpu_lstm
from conftest import GOLDENS, assert_close


def lstm(device):
    data = np.load(GOLDENS / "one_layer.npz")
    sd = {k[3:]: data[k] for k in data.files if k.startswith("sd.")}
    return wgpu_lstm.LSTM.from_state_dict(sd, device=device)


def gru(device):
    rng = np.random.default_rng(3)
    h, i = 6, 4
    sd = {}
    for layer in range(2):
        width = i if layer == 0 else h
        sd[f"weight_ih_l{layer}"] = rng.uniform(-0.5, 0.5, (3 * h, width)).astype(np.float32)
        sd[f"weight_hh_l{layer}"] = rng.uniform(-0.5, 0.5, (3 * h, h)).astype(np.float32)
        sd[f"bias_ih_l{layer}"] = rng.uniform(-0.5, 0.5, 3 * h).astype(np.float32)
        sd[f"bias_hh_l{layer}"] = rng.uniform(-0.5, 0.5, 3 * h).astype(np.float32)
    return wgpu_lstm.GRU.from_state_dict(sd, device=device)


def solo(model, xs, hx):
    """The stream's whole history run alone: (y, final state) without the batch axis."""
    x = np.concatenate(xs)[:, None, :]
    if isinstance(hx, tuple):
        y, (h, c) = model(x, (hx[0][:, None], hx[1][:, None]))
        return y[:, 0], (h[:, 0], c[:, 0])
    y, h = model(x, hx[:, None])
    return y[:, 0], h[:, 0]


@pytest.mark.parametrize("device", ["gpu", "cpu"])
@pytest.mark.parametrize("make", [lstm, gru])
def test_pooled_streams_equal_their_solo_runs(device, make):
    model = make(device)
    rng = np.random.default_rng(7)
    pool = wgpu_lstm.StreamPool(model, capacity=2)
    layers, width = model.num_layers, model.hidden_size
    streams = {}
    for step in range(12):
        if step % 3 == 0:
            hx = rng.uniform(-1, 1, (layers, width)).astype(np.float32)
            if isinstance(model, wgpu_lstm.LSTM):
                hx = (hx, rng.uniform(-1, 1, (layers, width)).astype(np.float32))
            streams[pool.open(hx)] = (hx, [], [])
        if step == 7:
            closed = next(iter(streams))
            pool.close(closed)
            del streams[closed]
        # Ragged chunks, and a stream left out now and then.
        chunks = {
            id: rng.uniform(-1, 1, (int(rng.integers(0, 4)), model.input_size)).astype(np.float32)
            for n, id in enumerate(streams)
            if (n + step) % 4 != 1
        }
        for id, y in pool.step(chunks).items():
            assert y.shape == (chunks[id].shape[0], model.hidden_size)
            streams[id][1].append(chunks[id])
            streams[id][2].append(y)
    assert len(pool) == len(streams) and pool.capacity >= len(streams)
    for id, (hx, xs, ys) in streams.items():
        y, state = solo(model, xs, hx)
        assert_close(f"{id} y", np.concatenate(ys), y)
        got = pool.state(id)
        if isinstance(state, tuple):
            assert_close(f"{id} h", got[0], state[0])
            assert_close(f"{id} c", got[1], state[1])
        else:
            assert_close(f"{id} h", got, state)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_bad_ids_and_chunks_change_no_stream(device):
    model = lstm(device)
    pool = wgpu_lstm.StreamPool(model)
    a, b = pool.open(), pool.open()
    x = np.ones((2, model.input_size), np.float32)
    pool.step({a: x, b: x})
    before = [np.array(s) for s in pool.state(a)]
    gone = pool.open()
    pool.close(gone)
    for bad, needle in [
        ({a: x, gone: x}, "not an open stream"),
        ({a: x, b: np.ones((2, model.input_size + 1), np.float32)}, "chunk"),
        ({a: np.ones(model.input_size, np.float32)}, "chunk"),
    ]:
        with pytest.raises(ValueError, match=needle):
            pool.step(bad)
        for got, want in zip(pool.state(a), before):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="not an open stream"):
        pool.state(gone)


def test_a_bidirectional_model_is_refused():
    rng = np.random.default_rng(1)
    sd = {
        f"{name}{sfx}": rng.uniform(-0.5, 0.5, shape).astype(np.float32)
        for sfx in ["_l0", "_l0_reverse"]
        for name, shape in [("weight_ih", (16, 3)), ("weight_hh", (16, 4))]
    }
    model = wgpu_lstm.LSTM.from_state_dict(sd, device="cpu")  # the _reverse keys make it bidirectional
    assert model.bidirectional
    with pytest.raises(ValueError, match="bidirectional"):
        wgpu_lstm.StreamPool(model)


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_submit_coalesces_callers_and_fails_only_a_bad_one(device):
    model = gru(device)
    pool = wgpu_lstm.StreamPool(model, max_wait=0.01)
    rng = np.random.default_rng(5)
    ids = [pool.open() for _ in range(20)]
    chunks = {id: [rng.uniform(-1, 1, (1, model.input_size)).astype(np.float32) for _ in range(3)] for id in ids}
    gone = pool.open()
    pool.close(gone)

    async def client(id):
        return [await pool.submit(id, chunk) for chunk in chunks[id]]

    async def main():
        results = await asyncio.gather(*(client(id) for id in ids), pool.submit(gone, chunks[ids[0]][0]), return_exceptions=True)
        return results[:-1], results[-1]

    results, bad = asyncio.run(main())
    assert isinstance(bad, ValueError) and "not an open stream" in str(bad)
    for id, ys in zip(ids, results):
        assert not isinstance(ys, Exception), ys
        y, h = solo(model, chunks[id], np.zeros((model.num_layers, model.hidden_size), np.float32))
        assert_close(f"{id} y", np.concatenate(ys), y)
        assert_close(f"{id} h", pool.state(id), h)
