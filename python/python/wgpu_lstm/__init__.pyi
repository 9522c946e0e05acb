"""Type stubs of wgpu_lstm (the extension module wgpu_lstm._native)."""

from os import PathLike
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.ArrayLike
F32Array = npt.NDArray[np.float32]

class DeviceError(RuntimeError):
    """No usable GPU adapter, a device that could not be opened, a request beyond the device's
    limits, or an error the GPU reported."""

class Recurrent:
    """What LSTM, GRU and RNN share: calls, streams, the model's sizes and device.

    Errors: ValueError for shapes, dtypes, values and malformed files; OSError (FileNotFoundError,
    PermissionError) for files that cannot be read; DeviceError for adapters and device limits.
    """

    def __call__(
        self,
        x: ArrayLike,
        hx: Optional[Union[Tuple[ArrayLike, ArrayLike], ArrayLike]] = None,
        seq_lens: Optional[ArrayLike] = None,
    ) -> Tuple[F32Array, Union[Tuple[F32Array, F32Array], F32Array]]:
        """Run whole sequences: x is (T, B, I), or (B, T, I) with batch_first; hx an optional
        (h0, c0) for an LSTM, h0 for a GRU or an RNN; seq_lens one length in 0..=T per batch
        element (0: zero outputs and final states). Returns (y, (h_n, c_n)) for an LSTM,
        (y, h_n) for a GRU or an RNN.

        Shapes (D directions, L layers, P = proj_size or H):
          PyTorch: y (T, B, D*P) [batch_first: (B, T, D*P)], h (L*D, B, P), c (L*D, B, H)
          ONNX:    y (T, D, B, H) [layout 1: (B, T, D, H)], h and c (D, B, H) [layout 1: (B, D, H)]
        float64 and float16 inputs are converted to float32."""

    def stream(self, batch: int, hx: Optional[Union[Tuple[ArrayLike, ArrayLike], ArrayLike]] = None) -> "Stream":
        """`batch` streams fed chunk by chunk, their state kept by the engine (on the GPU)."""

    def last_stats(self) -> Optional[dict]:
        """Counters of the latest GPU forward or step (dispatches, submits, readbacks, copies,
        bytes_uploaded, bytes_downloaded, record_us, gpu_ms, kernels); None on the CPU."""

    @property
    def device(self) -> str: ...
    @property
    def backend(self) -> Optional[str]: ...
    @property
    def adapter(self) -> str: ...
    @property
    def input_size(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def bidirectional(self) -> bool: ...
    @property
    def direction(self) -> str: ...
    @property
    def batch_first(self) -> bool: ...
    @property
    def convention(self) -> str: ...
    @property
    def weights_precision(self) -> str: ...
    @property
    def cell(self) -> str:
        """"lstm", "gru" or "rnn"."""
    @property
    def linear_before_reset(self) -> bool: ...

class LSTM(Recurrent):
    """A stacked LSTM on a GPU (or the CPU reference), shaped like torch.nn.LSTM.

    Errors: ValueError for shapes, dtypes, values and malformed files; OSError (FileNotFoundError,
    PermissionError) for files that cannot be read; DeviceError for adapters and device limits.
    """

    @staticmethod
    def from_state_dict(
        state_dict: Mapping[str, ArrayLike],
        *,
        batch_first: bool = False,
        convention: Optional[str] = None,
        direction: Optional[str] = None,
        clip: Optional[float] = None,
        input_forget: bool = False,
        activations: Optional[Sequence[str]] = None,
        activation_alpha: Optional[Sequence[float]] = None,
        activation_beta: Optional[Sequence[float]] = None,
        device: str = "gpu",
        backend: Optional[str] = None,
        adapter: Optional[str] = None,
        weights_precision: str = "f32",
    ) -> "LSTM":
        """From a mapping of names to arrays: PyTorch's (weight_ih_l0, ..., any prefix) or an
        ONNX LSTM's (W, R, B, P); `convention` ("pytorch" or "onnx") when both could match.
        `direction` ("forward", "reverse", "bidirectional") says what one-direction weights
        run as; clip, input_forget and the activations are the ONNX attributes.
        `device` is "gpu" or "cpu"; `backend` ("vulkan", "gl", "metal", "dx12") and `adapter`
        (a substring of its name) choose the GPU, else WGPU_BACKEND / WGPU_ADAPTER_NAME."""

    @staticmethod
    def load(
        path: Union[str, "PathLike[str]"],
        *,
        node: Optional[Union[str, Sequence[str]]] = None,
        batch_first: Optional[bool] = None,
        convention: Optional[str] = None,
        direction: Optional[str] = None,
        clip: Optional[float] = None,
        input_forget: bool = False,
        activations: Optional[Sequence[str]] = None,
        activation_alpha: Optional[Sequence[float]] = None,
        activation_beta: Optional[Sequence[float]] = None,
        device: str = "gpu",
        backend: Optional[str] = None,
        adapter: Optional[str] = None,
        weights_precision: str = "f32",
        max_file_bytes: Optional[int] = None,
        max_folded_bytes: Optional[int] = None,
    ) -> "LSTM":
        """From a .safetensors file (with the options of from_state_dict) or an .onnx model,
        told apart by content. An ONNX node's attributes configure the model (options that repeat
        them must agree with them); `node` picks a node by name, or a list stacks nodes as layers.
        `max_file_bytes` bounds each file read, `max_folded_bytes` the values computed from an
        .onnx model's constants (512 MiB by default)."""

    @property
    def proj_size(self) -> int: ...
    @property
    def input_forget(self) -> bool: ...

class GRU(Recurrent):
    """A stacked GRU on a GPU (or the CPU reference), shaped like torch.nn.GRU (PyTorch files) or
    the ONNX GRU operator (ONNX files and models, either linear_before_reset)."""

    @staticmethod
    def from_state_dict(
        state_dict: Mapping[str, ArrayLike],
        *,
        batch_first: bool = False,
        convention: Optional[str] = None,
        direction: Optional[str] = None,
        clip: Optional[float] = None,
        linear_before_reset: bool = False,
        nonlinearity: Optional[str] = None,
        activations: Optional[Sequence[str]] = None,
        activation_alpha: Optional[Sequence[float]] = None,
        activation_beta: Optional[Sequence[float]] = None,
        device: str = "gpu",
        backend: Optional[str] = None,
        adapter: Optional[str] = None,
        weights_precision: str = "f32",
    ) -> "GRU":
        """As LSTM.from_state_dict. `linear_before_reset` applies to ONNX-convention weights
        (nn.GRU's always have it); the activations are f, g per direction."""

    @staticmethod
    def load(
        path: Union[str, "PathLike[str]"],
        *,
        node: Optional[Union[str, Sequence[str]]] = None,
        batch_first: Optional[bool] = None,
        convention: Optional[str] = None,
        direction: Optional[str] = None,
        clip: Optional[float] = None,
        linear_before_reset: bool = False,
        nonlinearity: Optional[str] = None,
        activations: Optional[Sequence[str]] = None,
        activation_alpha: Optional[Sequence[float]] = None,
        activation_beta: Optional[Sequence[float]] = None,
        device: str = "gpu",
        backend: Optional[str] = None,
        adapter: Optional[str] = None,
        weights_precision: str = "f32",
        max_file_bytes: Optional[int] = None,
        max_folded_bytes: Optional[int] = None,
    ) -> "GRU":
        """As LSTM.load, for GRU nodes and files."""

class RNN(Recurrent):
    """A stacked plain RNN, shaped like torch.nn.RNN (`nonlinearity` "tanh" or "relu", which
    PyTorch files do not record) or the ONNX RNN operator. from_state_dict and load take GRU's
    arguments and return an RNN."""

    from_state_dict = GRU.from_state_dict
    load = GRU.load

class Stream:
    """Streams of one LSTM fed chunk by chunk (LSTM.stream)."""

    def step(self, x: ArrayLike, lens: Optional[ArrayLike] = None) -> F32Array:
        """Feed the next chunk ((T, B, I), or (B, T, I) with batch_first); lens[b] in 0..=T is
        stream b's steps in it (0 leaves it unchanged). Returns the chunk's y."""

    def reset(self, streams: Optional[Sequence[int]] = None) -> None:
        """Zero the listed streams' state (all without a list)."""

    @property
    def state(self) -> Union[Tuple[F32Array, F32Array], F32Array]:
        """(h, c) now for an LSTM, h for a GRU or an RNN, in the convention's shapes."""

    @property
    def batch(self) -> int: ...

class StreamPool:
    """Independent streams of one unidirectional model, each with its own state (on the GPU for
    device='gpu'), stepped together over exactly the streams given."""

    def __init__(self, model: Recurrent, capacity: int = 64, max_wait: float = 0.002) -> None: ...
    def open(self, hx: Optional[Union[Tuple[ArrayLike, ArrayLike], ArrayLike]] = None) -> int:
        """Open a stream from hx ((h, c) each (num_layers, H) for an LSTM, h for a GRU or an
        RNN) or zeros; returns its id."""
    def close(self, id: int) -> None:
        """Close a stream; its id stops working and its slot is reused."""
    def step(self, chunks: dict[int, ArrayLike]) -> dict[int, F32Array]:
        """One batched step: each id's chunk (T_i, input_size) -> its y (T_i, output_size).
        On an error no stream changes."""
    async def submit(self, id: int, chunk: ArrayLike) -> F32Array:
        """Queue one stream's chunk; callers within max_wait seconds share one step."""
    def state(self, id: int) -> Union[Tuple[F32Array, F32Array], F32Array]:
        """(h, c) each (num_layers, H) for an LSTM, h for a GRU or an RNN."""
    def set_state(self, id: int, hx: Union[Tuple[ArrayLike, ArrayLike], ArrayLike]) -> None: ...
    def reset(self, id: int) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def max_wait(self) -> float: ...
    def __len__(self) -> int: ...

class ConformResult:
    adapter: str
    passed: int
    failed: int
    not_applicable: int
    worst_ratio: float
    @property
    def ok(self) -> bool: ...
    @property
    def runs(self) -> list[dict[str, Any]]:
        """One dict per run: case, seed, config, kernels, verdict ("pass", "fail", "n/a"),
        max_abs_error, worst_ratio, error."""
    def __bool__(self) -> bool: ...

def adapters(backend: Optional[str] = None) -> list[dict[str, Any]]:
    """Every adapter that can run compute shaders: name, backend, device_type, driver,
    driver_info, vendor, device."""

def conform(
    cases: int = 50,
    seed: int = 0,
    *,
    every_variant: bool = True,
    training: bool = True,
    backend: Optional[str] = None,
    adapter: Optional[str] = None,
) -> ConformResult:
    """GPU-vs-CPU conformance: the cases of `wgpu-lstm conform` (named strata first, then random
    ones), each with every kernel combination, or the autotune's pick only; then, with
    `training`, the training strata's gradients (each tensor under its own bound), the CPU
    backward against finite differences and the optimizers against float64 rules, one run each
    after the forward cases (config "training [...]", "finite differences ..." or "optimizer
    ..."), and a failing run if a training kernel never ran."""

def bench(
    shapes: Sequence[Sequence[int]],
    *,
    warmup: int = 2,
    reps: int = 10,
    bidirectional: bool = False,
    weights_precision: str = "f32",
    backend: Optional[str] = None,
    adapter: Optional[str] = None,
) -> dict[str, Any]:
    """Time forwards of each (B, T, I, H) or (B, T, I, H, L) shape; the report as a dict
    (schema wgpu-lstm-bench/2)."""
