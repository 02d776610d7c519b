"""Shared benchmark fixtures.

Every contender of a group runs with the same thread count: BENCH_THREADS (default 1)
for deepgrad (set_num_threads), PyTorch (torch.set_num_threads) and NumPy's BLAS
(threadpoolctl, when installed). Run for example:
    BENCH_THREADS=2 pytest benches --benchmark-enable --benchmark-only --benchmark-group-by=group
"""
import pytest

import deepgrad
from _bench_utils import BENCH_THREADS, torch


@pytest.fixture(scope="session", autouse=True)
def same_thread_count_for_everyone():
    deepgrad.set_num_threads(BENCH_THREADS)
    if torch is not None:
        torch.set_num_threads(BENCH_THREADS)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is None:
        yield
    else:
        with threadpool_limits(BENCH_THREADS):
            yield
    deepgrad.set_num_threads(None)
