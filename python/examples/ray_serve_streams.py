"""Serve live streams with Ray Serve: stream pools sharded over replicas, each stream routed to
the replica that holds its state.

    pip install ./python "ray[serve]"
    python python/examples/ray_serve_streams.py tests/golden/pt_three_layer_no_bias/weights.safetensors

`PoolShard` is one replica holding a `wgpu_lstm.StreamPool` of the model; concurrent chunks of
its streams are coalesced into one batched step (`pool.submit`). `StreamRouter`, the ingress,
opens each stream on a shard in turn and returns an id that names the shard, so every later
call of that stream reaches the replica that holds its state.

When a shard's replica dies, Ray Serve starts another with an empty pool. A stream id also names
the replica instance that opened it, so a call for a stream of the dead replica fails with a
ValueError ("... restarted; open the stream again") instead of reaching another stream, and the
client opens a new stream (its state starts over; keep the last state with `state` if it matters).
"""

import os
import sys
import uuid

import numpy as np
from ray import serve

import wgpu_lstm


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)
class PoolShard:
    def __init__(self, model_path, device="gpu"):
        self.model = wgpu_lstm.LSTM.load(model_path, device=device)
        self.pool = wgpu_lstm.StreamPool(self.model, max_wait=0.005)
        # This replica instance: ids of another (a restarted replica) are refused by name.
        self.instance = uuid.uuid4().hex[:8]

    def _local(self, instance, id):
        if instance != self.instance:
            raise ValueError(f"the replica that held stream {instance}.{id} restarted; open the stream again")
        return id

    async def open(self):
        return self.instance, self.pool.open(), os.getpid()

    async def step(self, instance, id, chunk):
        return await self.pool.submit(self._local(instance, id), np.asarray(chunk, np.float32))

    async def state(self, instance, id):
        return self.pool.state(self._local(instance, id))

    async def close(self, instance, id):
        self.pool.close(self._local(instance, id))


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)
class StreamRouter:
    def __init__(self, *shards):
        self.shards = shards
        self.next = 0

    def _shard(self, stream):
        shard, instance, id = stream.split(":")
        return self.shards[int(shard)], instance, int(id)

    async def open(self):
        """A new stream: its id ("shard:instance:id") and the process of the replica holding it."""
        k = self.next % len(self.shards)
        self.next += 1
        instance, id, pid = await self.shards[k].open.remote()
        return f"{k}:{instance}:{id}", pid

    async def step(self, stream, chunk):
        """The stream's next chunk, (T, I): its y, (T, H)."""
        shard, instance, id = self._shard(stream)
        return await shard.step.remote(instance, id, chunk)

    async def state(self, stream):
        shard, instance, id = self._shard(stream)
        return await shard.state.remote(instance, id)

    async def close(self, stream):
        shard, instance, id = self._shard(stream)
        await shard.close.remote(instance, id)


def app(model_path, replicas=2, device="gpu"):
    shards = [PoolShard.options(name=f"pool_shard_{k}").bind(model_path, device) for k in range(replicas)]
    return StreamRouter.bind(*shards)


if __name__ == "__main__":
    path = sys.argv[1]
    handle = serve.run(app(path), name="streams", route_prefix=None)
    input_size = wgpu_lstm.LSTM.load(path, device="cpu").input_size
    stream, pid = handle.open.remote().result()
    for t in range(3):
        y = handle.step.remote(stream, np.zeros((1, input_size), np.float32)).result()
        print(f"{stream} (replica process {pid}) step {t}: y {y.shape}")
    handle.close.remote(stream).result()
    serve.shutdown()
