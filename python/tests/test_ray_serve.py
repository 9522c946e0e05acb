"""examples/ray_serve.py under load: Ray started locally, the deployment's two replicas serve
200 requests sent from 8 threads; every answer equals the CPU reference on its sequence alone,
both replicas answer, and requests share batches."""

import importlib.util
import threading

import numpy as np
import pytest
import ray
from ray import serve

import wgpu_lstm
from conftest import ONNX_DATA, REPO, assert_close

MODEL = ONNX_DATA / "torch_dynamo" / "state_dict.safetensors"
REQUESTS, THREADS = 200, 8


def example():
    spec = importlib.util.spec_from_file_location("ray_serve_example", REPO / "python" / "examples" / "ray_serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def handle():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield serve.run(example().app(str(MODEL)), name="lstm", route_prefix=None)
    finally:
        serve.shutdown()
        ray.shutdown()


def test_200_requests_from_threads_match_the_cpu(handle):
    cpu = wgpu_lstm.LSTM.load(MODEL, device="cpu")
    rng = np.random.default_rng(7)
    sequences = [rng.uniform(-1, 1, (int(rng.integers(1, 30)), cpu.input_size)).astype(np.float32) for _ in range(REQUESTS)]
    answers = [None] * REQUESTS
    errors = []

    def send(indices):
        try:
            for k in indices:
                answers[k] = handle.remote(sequences[k]).result(timeout_s=120)
        except Exception as e:  # reported below with the others
            errors.append(e)

    threads = [threading.Thread(target=send, args=(range(t, REQUESTS, THREADS),)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    for k, (x, answer) in enumerate(zip(sequences, answers)):
        expected, _ = cpu(x[:, None, :])
        assert_close(f"request {k} (T={len(x)}, batch {answer['batch']})", answer["y"], expected[:, 0])
    replicas = {a["replica"] for a in answers}
    batches = [a["batch"] for a in answers]
    assert len(replicas) == 2, f"answered by {replicas}"
    assert max(batches) > 1, "no two requests shared a batch"
    print(f"{REQUESTS} requests: replicas {sorted(replicas)}, largest batch {max(batches)}, mean {np.mean(batches):.1f}")


def test_a_bad_request_is_an_error_not_a_crash(handle):
    with pytest.raises(Exception, match="expected a"):
        handle.remote(np.zeros((3, 99), np.float32)).result(timeout_s=60)
    # The replicas still serve.
    assert handle.remote(np.zeros((2, 5), np.float32)).result(timeout_s=60)["y"].shape == (2, 14)
