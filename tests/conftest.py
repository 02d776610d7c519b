"""Shared fixtures. The tests import the *installed* deepgrad (pip install .[test])."""
import numpy as np
import pytest

import deepgrad


@pytest.fixture(params=deepgrad.simd_paths())
def simd_path(request):
    """Run the test once per SIMD path this CPU supports (avx512, avx2, portable), then restore."""
    deepgrad.set_simd(request.param)
    assert deepgrad.get_simd() == request.param
    yield request.param
    deepgrad.set_simd(None)


@pytest.fixture
def threads():
    """Set the kernel thread count inside a test; restored afterwards."""
    before = deepgrad.get_num_threads()
    yield deepgrad.set_num_threads
    deepgrad.set_num_threads(before)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def frozen_copies(*arrays):
    """Copies to check later that a call left its inputs untouched."""
    return [None if a is None else np.array(a, copy=True) for a in arrays]
