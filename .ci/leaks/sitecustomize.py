"""With this folder on PYTHONPATH, `nbdev_test` also checks that no notebook leaves process-wide state changed.

`nbdev_test` runs several notebooks in one worker process, so a notebook that leaves grad mode off, the thread count,
the default dtype, the working directory, warnings filters or environment variables changed breaks whichever notebook
runs next in that worker. Here nbdev's `test_nb` is wrapped: the state is compared before and after each notebook,
a difference fails that notebook (after one line per leak), and the state is put back so a leak is reported once.
Libraries that change this state once per process on first use do so before the first notebook (`_warm_up`). With
ZSCORE_KD_NBTEST_LOG set, one JSON line per notebook is appended there (the test suite counts them). The global random
generator is not compared: any random draw moves it; notebooks seed what they draw.
"""
import json, os, sys, time, warnings

_WARM = []

def _snapshot() -> dict:
    import torch
    return {'grad mode': torch.is_grad_enabled(), 'inference mode': torch.is_inference_mode_enabled(),
            'torch threads': torch.get_num_threads(), 'default dtype': torch.get_default_dtype(),
            'deterministic algorithms': torch.are_deterministic_algorithms_enabled(),
            'float32 matmul precision': torch.get_float32_matmul_precision(),
            'anomaly detection': torch.is_anomaly_enabled(), 'cwd': os.getcwd(),
            'warnings filters': list(warnings.filters), 'environment': dict(os.environ)}

def _restore(s: dict):
    import torch
    torch.set_grad_enabled(s['grad mode']); torch.set_num_threads(s['torch threads'])
    torch.set_default_dtype(s['default dtype']); torch.use_deterministic_algorithms(s['deterministic algorithms'])
    torch.set_float32_matmul_precision(s['float32 matmul precision'])
    torch.autograd.set_detect_anomaly(s['anomaly detection']); os.chdir(s['cwd'])
    warnings.filters[:] = s['warnings filters']; warnings._filters_mutated()
    os.environ.clear(); os.environ.update(s['environment'])

def _leaks(before: dict, after: dict) -> list:
    "One phrase per piece of state that changed."
    out = []
    for key, old in before.items():
        new = after[key]
        if old == new: continue
        if isinstance(old, dict):
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            out.append(f"{key}: {', '.join(f'{k}={old.get(k)!r}->{new.get(k)!r}' for k in changed)}")
        elif isinstance(old, list):
            out.append(f'{key}: added {[f for f in new if f not in old]}, removed {[f for f in old if f not in new]}')
        else: out.append(f'{key}: {old!r} -> {new!r}')
    return out

def _warm_up():
    "What libraries change once per process, in whichever notebook first uses them: done before the first baseline."
    from execnb.shell import CaptureShell
    CaptureShell()                # IPython's first shell adds its own warnings filter
    import sympy, urllib3, requests, sklearn.manifold  # noqa: F401 (warnings filters; sklearn sets KMP_* variables)
    from torch._inductor.runtime.cache_dir_utils import cache_dir
    cache_dir()                   # torch sets TORCHINDUCTOR_CACHE_DIR the first time anything asks for it
    os.environ['IN_TEST'] = '1'   # what nbdev's test_nb sets on its first call

def test_nb(fn, *args, **kwargs):
    "nbdev's `test_nb`, failing a notebook that leaves process-wide state changed."
    if not _WARM: _warm_up(); _WARM.append(True)
    before = _snapshot()
    ok, seconds = _original(fn, *args, **kwargs)
    leaks = _leaks(before, _snapshot())
    _restore(before)
    for leak in leaks: sys.stderr.write(f'{fn.name} leaks {leak}\n')
    if path := os.environ.get('ZSCORE_KD_NBTEST_LOG'):
        record = dict(notebook=fn.name, ran=ok, leaks=leaks, seconds=seconds)
        with open(path, 'a') as f: f.write(json.dumps(record) + '\n')
    return ok and not leaks, seconds

if os.path.basename(sys.argv[0]) == 'nbdev_test':
    import nbdev.test
    _original, nbdev.test.test_nb = nbdev.test.test_nb, test_nb
