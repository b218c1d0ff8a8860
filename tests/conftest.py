"""Fixtures shared by the test modules."""
import pytest
import torch

@pytest.fixture(scope='module')
def one_thread():
    "Small CPU tensors: one thread is faster, and immune to OpenMP spinning when other jobs share the cores."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

def pytest_configure(config):
    config.addinivalue_line('markers', 'gpu: needs a CUDA device; the GPU check (benchmarks/check.py) runs these')
