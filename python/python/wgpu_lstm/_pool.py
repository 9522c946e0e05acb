"""The asyncio front of the stream pool: concurrent `submit` calls coalesced into one step."""

import asyncio

from ._native import StreamPool as _NativeStreamPool


class StreamPool(_NativeStreamPool):
    """Independent streams of one unidirectional model, each with its own state, stepped
    together: open() -> id, close(id), step({id: chunk}) -> {id: y}, state(id).

    `await pool.submit(id, chunk)` queues one stream's chunk; calls that arrive within
    `max_wait` seconds of the first run as one step (a stream submitted twice goes to the next
    step), in a worker thread, so the event loop keeps running. A bad id or chunk fails its own
    caller only.
    """

    async def submit(self, id, chunk):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        pending = self.__dict__.setdefault("_pending", [])
        pending.append((id, chunk, future))
        if self.__dict__.get("_flusher") is None:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self):
        try:
            await asyncio.sleep(self.max_wait)
            while self._pending:
                batch, rest, seen = {}, [], set()
                for id, chunk, future in self._pending:
                    if id in seen:
                        rest.append((id, chunk, future))
                    else:
                        seen.add(id)
                        batch[id] = (chunk, future)
                self._pending = rest
                await self._run(batch)
        finally:
            self._flusher = None

    async def _run(self, batch):
        loop = asyncio.get_running_loop()
        chunks = {id: chunk for id, (chunk, _) in batch.items()}
        try:
            ys = await loop.run_in_executor(None, self.step, chunks)
        except Exception:
            # One bad caller: step each stream alone, so that only the bad ones fail.
            for id, (chunk, future) in batch.items():
                try:
                    y = (await loop.run_in_executor(None, self.step, {id: chunk}))[id]
                    _resolve(future, y)
                except Exception as e:  # noqa: BLE001 - handed to the caller
                    if not future.done():
                        future.set_exception(e)
            return
        for id, (_, future) in batch.items():
            _resolve(future, ys[id])


def _resolve(future, value):
    if not future.done():
        future.set_result(value)
