"""LSTM networks on any GPU wgpu reaches (Vulkan, Metal, DX12, GL), checked against a CPU reference.

    import numpy as np, wgpu_lstm
    lstm = wgpu_lstm.LSTM.load("model.safetensors")      # or .onnx, or LSTM.from_state_dict(sd)
    y, (h_n, c_n) = lstm(np.zeros((100, 8, lstm.input_size), np.float32))

wgpu_lstm.GRU and wgpu_lstm.RNN take the same calls for nn.GRU / nn.RNN and ONNX GRU / RNN
models, and return (y, h_n). Arrays are float32 numpy arrays in the shapes of the weights'
convention (PyTorch's nn modules or the ONNX operators). The GIL is released while the engine works.
"""

from ._native import (
    GRU,
    LSTM,
    RNN,
    Recurrent,
    ConformResult,
    DeviceError,
    Stream,
    __version__,
    adapters,
    bench,
    conform,
)
from ._pool import StreamPool

__all__ = [
    "LSTM",
    "GRU",
    "RNN",
    "Recurrent",
    "Stream",
    "StreamPool",
    "ConformResult",
    "DeviceError",
    "adapters",
    "bench",
    "conform",
    "__version__",
]
