"""Fixtures shared by the test modules, and the suite's last line: `N passed, N failed`."""
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

def pytest_unconfigure(config):
    "The closing line CI reads: tests passed and tests failed (errors count as failed), after pytest's own summary."
    reporter = config.pluginmanager.get_plugin('terminalreporter')
    if reporter is None or hasattr(config, 'workerinput'): return  # an xdist worker: the controller counts
    failed = sum(len(reporter.stats.get(k, [])) for k in ('failed', 'error'))
    reporter.write_line(f"{len(reporter.stats.get('passed', []))} passed, {failed} failed")
