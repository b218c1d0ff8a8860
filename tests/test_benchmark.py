"""The speed benchmark must keep running: its CPU smoke mode exercises every measurement and prints the ratios."""
import subprocess, sys
from pathlib import Path

def test_speed_benchmark_quick(tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, 'benchmarks/speed.py', '--quick', '--out', str(tmp_path)], cwd=root,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    md = (tmp_path / 'results.md').read_text()
    assert '| classic KD+LS' in md and '| fast KD+LS, 8 students' in md and 'fp32 equivalence' in md
    assert 'accuracy' in md and (tmp_path / 'results.json').exists()
