"""The Ray Serve examples under load, in one local Ray: examples/ray_serve.py's two replicas serve
200 requests sent from 8 threads (every answer equals the CPU reference on its sequence alone,
both replicas answer, requests share batches); examples/ray_serve_streams.py's stream pools on
two replicas serve 50 concurrent clients that open, step and close a stream each (every client's
outputs equal its stream run alone, both replicas hold streams, and an id of another replica
instance is refused by name)."""

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
# examples/ray_serve_streams.py: stream pools on two replicas, a unidirectional nn.LSTM (3
# layers; a bidirectional model cannot stream), 50 clients of 4 chunks each.
STREAM_MODEL = REPO / "tests" / "golden" / "pt_three_layer_no_bias" / "weights.safetensors"
CLIENTS, CHUNKS = 50, 4


def example(name="ray_serve"):
    spec = importlib.util.spec_from_file_location(f"{name}_example", REPO / "python" / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module's two applications (Ray starts in tens of seconds)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def handle(ray_session):
    return serve.run(example().app(str(MODEL)), name="lstm", route_prefix=None)


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


@pytest.fixture(scope="module")
def streams(ray_session):
    return serve.run(example("ray_serve_streams").app(str(STREAM_MODEL)), name="streams", route_prefix=None)


def test_50_stream_clients_each_equal_their_stream_alone(streams):
    cpu = wgpu_lstm.LSTM.load(STREAM_MODEL, device="cpu")
    rng = np.random.default_rng(11)
    chunks = [
        [rng.uniform(-1, 1, (int(rng.integers(1, 4)), cpu.input_size)).astype(np.float32) for _ in range(CHUNKS)]
        for _ in range(CLIENTS)
    ]
    results, pids, errors = [None] * CLIENTS, [None] * CLIENTS, []

    def client(k):
        try:
            stream, pids[k] = streams.open.remote().result(timeout_s=120)
            results[k] = [streams.step.remote(stream, c).result(timeout_s=120) for c in chunks[k]]
            streams.close.remote(stream).result(timeout_s=120)
            try:
                streams.step.remote(stream, chunks[k][0]).result(timeout_s=120)
                errors.append(f"client {k}: a closed stream stepped")
            except Exception as e:  # the closed stream's error, as expected
                if "not an open stream" not in str(e):
                    errors.append(e)
        except Exception as e:  # reported below with the others
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    for k in range(CLIENTS):
        expected, _ = cpu(np.concatenate(chunks[k])[:, None, :])
        assert_close(f"client {k}", np.concatenate(results[k]), expected[:, 0])
    assert len(set(pids)) == 2, f"streams held by replica processes {set(pids)}"


def test_a_stream_id_of_another_replica_instance_is_refused(streams):
    input_size = wgpu_lstm.LSTM.load(STREAM_MODEL, device="cpu").input_size
    stream, _ = streams.open.remote().result(timeout_s=120)
    shard, _, id = stream.split(":")
    with pytest.raises(Exception, match="restarted; open the stream again"):
        streams.step.remote(f"{shard}:00000000:{id}", np.zeros((1, input_size), np.float32)).result(timeout_s=120)
    streams.close.remote(stream).result(timeout_s=120)
