"""Fixtures shared by the test modules."""

import pytest


@pytest.fixture
def torch_float64():
    """PyTorch computing in float64 for the duration of a test (skipped when torch is not installed)."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)
