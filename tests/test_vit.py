"""ViT students end to end: the speed benchmark's CPU smoke mode (every measurement, tiny sizes)."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_vit_speed_smoke(tmp_path):
    out = subprocess.run([sys.executable, 'benchmarks/vit_speed.py', '--smoke', '--out', str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    md, res = (tmp_path / 'results.md').read_text(), json.loads((tmp_path / 'results.json').read_text())
    assert '| fast train step |' in md and '| classic train step |' in md and 'fast / classic' in md and 'projected 300 epochs' in md
    assert res['ratio'] > 0 and set(res['projected_minutes']) == {'fast', 'classic'}
