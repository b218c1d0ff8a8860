#!/usr/bin/env python
"""Run nbdev_test one notebook at a time and print `N passed, N failed` last.

Usage: python .ci/nbtest.py [--flags "slow gpu"] [--workers N] [--timeout S]
"""
import argparse, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def notebooks(root):
    "Notebooks nbdev_test would run: skip names starting with `_` or `.`."
    return sorted(p for p in Path(root).glob('*.ipynb') if not re.match(r'[_.]', p.name))

def run_one(nb, flags, timeout):
    cmd = ['nbdev_test', '--n_workers', '0', '--path', str(nb)] + (['--flags', flags] if flags else [])
    start = time.time()
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}  # notebooks run side by side: one thread each
    try: proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env); rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired: rc, out = 1, f'timed out after {timeout} s'
    return nb, rc, time.time() - start, out

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--nbs', default='nbs'); ap.add_argument('--flags', default='')
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--timeout', type=int, default=900)
    args = ap.parse_args()
    passed = failed = 0
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        for nb, rc, secs, out in pool.map(lambda nb: run_one(nb, args.flags, args.timeout), notebooks(args.nbs)):
            ok = rc == 0; passed += ok; failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {nb} ({secs:.1f}s)", flush=True)
            if not ok: print(out[-6000:], file=sys.stderr, flush=True)
    print(f'{passed} passed, {failed} failed')
    sys.exit(0 if passed and not failed else 1)
