#!/usr/bin/env python
"""Run every notebook in ONE process, in order, as `nbdev_test` runs each one, and check that none leaks global state.

`nbdev_test` runs several notebooks in the same worker process, so a notebook that leaves grad mode off, the thread
count changed, another default dtype, a changed working directory, new warnings filters or environment variables
breaks whichever notebook happens to run next in that worker. After each notebook this script compares that state
with what it was before and reports the difference. (The global random generator is not compared: any random draw
moves it. Notebooks seed what they draw instead.) Libraries that change this state once per process, on first import
or first use, whichever notebook comes first, do so before the baseline is taken (`warm_up`).

Usage: python .ci/nbstate.py [notebook ...]   (default: every notebook nbdev_test would run, sorted as it sorts them)
       python .ci/nbstate.py --workers N    (every notebook, split over N processes side by side: CI uses 2)
Prints `PASS`/`FAIL <notebook>` per notebook and `N passed, N failed` last; exit code 1 on any failure.
"""
import os, re, subprocess, sys, time, warnings
from pathlib import Path

import torch
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb

def snapshot():
    "The process-wide state a notebook must leave as it found it."
    return {'grad mode': torch.is_grad_enabled(), 'inference mode': torch.is_inference_mode_enabled(),
            'torch threads': torch.get_num_threads(), 'default dtype': torch.get_default_dtype(),
            'deterministic algorithms': torch.are_deterministic_algorithms_enabled(),
            'float32 matmul precision': torch.get_float32_matmul_precision(),
            'anomaly detection': torch.is_anomaly_enabled(), 'cwd': os.getcwd(),
            'warnings filters': list(warnings.filters), 'environment': dict(os.environ)}

def diff(before, after):
    "One phrase per piece of state that changed."
    out = []
    for key, old in before.items():
        new = after[key]
        if old == new: continue
        if isinstance(old, dict):
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            out.append(f"{key}: {', '.join(f'{k}={old.get(k)!r}->{new.get(k)!r}' for k in changed)}")
        elif isinstance(old, list): out.append(f"{key}: added {[f for f in new if f not in old]}, "
                                               f"removed {[f for f in old if f not in new]}")
        else: out.append(f'{key}: {old!r} -> {new!r}')
    return out

def warm_up():
    "One-time set-up that libraries do in whatever notebook first uses them: done before the baseline."
    CaptureShell()  # IPython's first shell adds its own warnings filter; later shells reuse it
    import sympy  # noqa: F401  (adds a warnings filter for its deprecations on import)
    import urllib3, requests  # noqa: F401  (both add warnings filters on import; papermill loads them)
    import sklearn.manifold  # noqa: F401  (scipy adds warnings filters, sklearn sets KMP_* variables on import)
    from torch._inductor.runtime.cache_dir_utils import cache_dir
    cache_dir()  # torch sets TORCHINDUCTOR_CACHE_DIR the first time anything asks for its compile cache

def main(paths):
    cfg = get_config()
    files = [Path(p).absolute() for p in paths] or sorted(f.absolute() for f in nbglob(as_path=True))
    skip = cfg.tst_flags.split()
    os.environ['IN_TEST'] = '1'; sys.path.insert(0, str(cfg.config_path))  # what test_nb itself sets on first use
    warm_up()
    if torch.get_num_threads() == 1: torch.set_num_threads(2)  # so that a notebook pinning one thread shows up too
    passed = failed = 0
    for fn in files:
        before, start = snapshot(), time.time()
        ok, _ = test_nb(fn, skip_flags=skip)
        leaks = diff(before, snapshot())
        good = ok and not leaks
        passed += good; failed += not good
        print(f"{'PASS' if good else 'FAIL'} {fn.name} ({time.time() - start:.1f}s)"
              + ('' if ok else ' cells failed') + ''.join(f'\n    leaks {d}' for d in leaks), flush=True)
        # put the state back so one leak is reported once, at the notebook that caused it
        torch.set_grad_enabled(before['grad mode']); torch.set_num_threads(before['torch threads'])
        torch.set_default_dtype(before['default dtype']); os.chdir(before['cwd'])
        torch.use_deterministic_algorithms(before['deterministic algorithms'])
        torch.set_float32_matmul_precision(before['float32 matmul precision'])
        torch.autograd.set_detect_anomaly(before['anomaly detection'])
        warnings.filters[:] = before['warnings filters']; warnings._filters_mutated(); os.environ.clear(); os.environ.update(before['environment'])
    print(f'{passed} passed, {failed} failed')
    return 0 if passed and not failed else 1

def in_workers(n: int) -> int:
    "Split the notebooks over `n` processes (each checks its share in order, one process each); sum their counts."
    files = sorted(str(f.absolute()) for f in nbglob(as_path=True))
    env = {**os.environ, 'OMP_WAIT_POLICY': 'PASSIVE'}  # two threads per process (see main), idle ones asleep
    procs = [subprocess.Popen([sys.executable, __file__, *files[i::n]], stdout=subprocess.PIPE, text=True, env=env)
             for i in range(n)]
    outs = [p.communicate()[0].splitlines() for p in procs]
    for out in outs: print('\n'.join(out[:-1]), flush=True)
    counts = [re.match(r'(\d+) passed, (\d+) failed', out[-1] if out else '') for out in outs]
    if not all(counts): print('0 passed, 1 failed'); return 1
    passed, failed = (sum(int(m.group(k)) for m in counts) for k in (1, 2))
    print(f'{passed} passed, {failed} failed')
    return 0 if passed and not failed and all(p.returncode == 0 for p in procs) else 1

if __name__ == '__main__':  # --workers N: N processes side by side (no notebook sees another's state either way)
    args = sys.argv[1:]
    sys.exit(in_workers(int(args[1])) if args[:1] == ['--workers'] else main(args))
