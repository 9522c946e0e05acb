"""The GIL is released while the engine works: a Python thread keeps counting during one long
forward on the GPU (and on the CPU reference)."""

import threading
import time

import numpy as np
import pytest

import wgpu_lstm


@pytest.mark.parametrize("device", ["gpu", "cpu"])
def test_another_thread_runs_during_a_forward(device):
    rng = np.random.default_rng(0)
    h, i = 128, 64
    sd = {
        "weight_ih_l0": rng.uniform(-0.1, 0.1, (4 * h, i)),
        "weight_hh_l0": rng.uniform(-0.1, 0.1, (4 * h, h)),
    }
    lstm = wgpu_lstm.LSTM.from_state_dict(sd, device=device)
    x = rng.uniform(-1, 1, (400, 16, i)).astype(np.float32)
    lstm(x[:2])  # compile and tune outside the measured call

    ticks = []
    running = threading.Event()
    stop = threading.Event()

    def count():
        running.set()
        while not stop.is_set():
            ticks.append(time.perf_counter())

    worker = threading.Thread(target=count)
    worker.start()
    running.wait()
    start = time.perf_counter()
    lstm(x)
    end = time.perf_counter()
    stop.set()
    worker.join()
    during = [t for t in ticks if start < t < end]
    # With the GIL held through the call, the counting thread could not run at all until it
    # returned (a switch needs the running thread to give the GIL up).
    assert len(during) > 100, f"{len(during)} ticks in a {1e3 * (end - start):.0f} ms forward"
    gaps = np.diff([start] + during + [end])
    assert gaps.max() < 0.5 * (end - start), f"the thread stalled {gaps.max() * 1e3:.0f} ms of {(end - start) * 1e3:.0f} ms"
