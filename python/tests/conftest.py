"""Shared helpers of the Python tests. They run on the adapter wgpu picks (WGPU_BACKEND and
WGPU_ADAPTER_NAME choose one); a missing adapter fails the GPU tests, it never skips them. An
optional dependency (torch) that is missing skips what needs it, visibly, except where
WGPU_LSTM_REQUIRE_OPTIONAL is set (CI sets it): there it fails."""

import importlib
import os
from pathlib import Path

import pytest

import numpy as np

# Absolute tolerance of GPU and CPU results against onnxruntime, torch and each other: the
# outputs are in [-1, 1] and float32 rounding over these shapes stays well below it.
TOLERANCE = 1e-4

REPO = Path(__file__).resolve().parents[2]
ONNX_DATA = REPO / "tests" / "onnx"
GOLDENS = Path(__file__).resolve().parent / "goldens"


def optional(module):
    """Import `module`, an optional dependency of the tests: if it is missing, skip the test, or
    fail it where WGPU_LSTM_REQUIRE_OPTIONAL is set."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("WGPU_LSTM_REQUIRE_OPTIONAL"):
            raise AssertionError(
                f"{module} is required here (WGPU_LSTM_REQUIRE_OPTIONAL is set) but missing: {e}"
            ) from e
        pytest.skip(f"{module} is not installed")


def assert_close(name, got, expected, tol=TOLERANCE):
    """Shapes equal and max |got - expected| <= tol; a failure names the worst element."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{name}: shape {got.shape}, expected {expected.shape}"
    if got.size == 0:
        return
    err = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err[worst] <= tol, (
        f"{name}: max abs error {err[worst]:.3e} > {tol:.0e} at {tuple(int(i) for i in worst)} "
        f"(got {got[worst]!r}, expected {expected[worst]!r})"
    )
