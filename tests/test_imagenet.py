"""ImageNet path end to end on generated JPEG trees: the loader benchmark's smoke mode, a crop-32 KD+LS run, the CLI and
torchrun (DDP on CPU with gloo)."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imagenet_loader_benchmark_smoke(tmp_path):
    out = subprocess.run([sys.executable, 'benchmarks/imagenet_loader.py', '--smoke', '--out', str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / 'imagenet_loader.json').read_text())
    assert set(res['ratios']) == {'device_over_classic', 'loader_over_step', 'classic_over_step'}
    assert all(v > 0 for v in res['rates'].values()) and res['env']['images'] == 48
    assert '| device loader' in (tmp_path / 'imagenet_loader.md').read_text()
