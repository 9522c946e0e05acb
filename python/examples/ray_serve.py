"""Serve an LSTM with Ray Serve: two replicas, each with its own engine on its own GPU device,
batching concurrent requests with @serve.batch.

    pip install ./python "ray[serve]"
    python python/examples/ray_serve.py tests/onnx/torch_dynamo/state_dict.safetensors

Each request is one sequence, a (T, I) array; sequences of different lengths share a batch,
padded to the longest and run with their lengths (seq_lens), so each answer is exactly what the
sequence alone gives. The forward runs in a worker thread: the engine releases the GIL, so the
replica's event loop keeps collecting the next batch meanwhile.

On a Ray cluster, give each replica a GPU with ray_actor_options={"num_gpus": 1} and raise
num_replicas (or use autoscaling_config): Ray places one replica per GPU, and wgpu inside each
replica opens the GPU Ray assigned (CUDA_VISIBLE_DEVICES does not apply to Vulkan; set
WGPU_ADAPTER_NAME per node type where a node has several kinds of adapter).
"""

import asyncio
import os
import sys

import numpy as np
from ray import serve

import wgpu_lstm


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=64)
class LstmDeployment:
    def __init__(self, model_path, device="gpu"):
        self.lstm = wgpu_lstm.LSTM.load(model_path, device=device)
        if self.lstm.convention != "pytorch":
            raise ValueError("this example returns PyTorch-shaped y; load a .safetensors state_dict")
        self.replica = f"{os.getpid()}"

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.02)
    async def run(self, sequences: list) -> list:
        lens = [len(s) for s in sequences]
        t, b, i = max(lens), len(sequences), self.lstm.input_size
        x = np.zeros((b, t, i) if self.lstm.batch_first else (t, b, i), np.float32)
        for k, s in enumerate(sequences):
            if self.lstm.batch_first:
                x[k, : len(s)] = s
            else:
                x[: len(s), k] = s
        y, _ = await asyncio.to_thread(self.lstm, x, None, lens)
        rows = [y[k, :n] if self.lstm.batch_first else y[:n, k] for k, n in enumerate(lens)]
        return [{"y": row, "replica": self.replica, "batch": b} for row in rows]

    async def __call__(self, sequence):
        """One sequence, (T, I): its y, (T, D·H), with the replica and batch size that ran it."""
        sequence = np.asarray(sequence, np.float32)
        if sequence.ndim != 2 or sequence.shape[1] != self.lstm.input_size or len(sequence) == 0:
            raise ValueError(f"expected a (T, {self.lstm.input_size}) sequence, got {sequence.shape}")
        return await self.run(sequence)


def app(model_path, device="gpu"):
    return LstmDeployment.bind(model_path, device)


if __name__ == "__main__":
    path = sys.argv[1]
    handle = serve.run(app(path), name="lstm", route_prefix=None)
    x = np.random.default_rng(0).uniform(-1, 1, (12, wgpu_lstm.LSTM.load(path, device="cpu").input_size))
    answer = handle.remote(x).result()
    print(f"y {answer['y'].shape} from replica {answer['replica']} (batch of {answer['batch']})")
    serve.shutdown()
