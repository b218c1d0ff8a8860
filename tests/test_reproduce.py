"""The entry notebooks end to end through papermill: a whole toy table and every figure from an empty runs/ folder,
and the paper-scale dry run of Table 4 (the plan of the GPU sweep, nothing trained)."""
import csv
from pathlib import Path

import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1] / 'nbs'

def run_nb(name, out, **params):
    pm.execute_notebook(str(NBS / name), str(out / f'out_{name}'), parameters=params, cwd=str(NBS), kernel_name='python3', progress_bar=False, execution_timeout=600)

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp('runs')
    run_nb('20_reproduce.ipynb', out, out_dir=str(out))
    run_nb('21_figures.ipynb', out, out_dir=str(out))
    return out

def test_table_files_have_ours_and_the_paper(runs):
    tables = runs / 'tables'
    assert sorted(p.name for p in tables.iterdir()) == [f'main_T4_toy{s}' for s in ('.csv', '.md', '.tex', '_commands.sh', '_runs.csv')]
    md = (tables / 'main_T4_toy.md').read_text()
    assert '| paper (for reference) |' in md and 'ours final on synthetic (mean ± std)' in md and '73.60' in md
    assert md.startswith('**Not comparable with the paper: ours ran on synthetic data') and 'Δ' not in md.split('\n\n')[1]
    rows = list(csv.DictReader(open(tables / 'main_T4_toy.csv')))
    assert len(rows) == 8 and all(r['n'] == '1' and r['paper_top1'] and r['best_mean'] for r in rows)
    per_run = list(csv.DictReader(open(tables / 'main_T4_toy_runs.csv')))
    assert {r['status'] for r in per_run} == {'finished'} and all(r['final_top1'] and r['best_epoch'] for r in per_run)
    assert r'\pm' in (tables / 'main_T4_toy.tex').read_text()

def test_every_figure_as_png_and_pdf(runs):
    files = sorted(p.name for p in (runs / 'figures' / 'toy').iterdir())
    assert files == sorted(f'{k}.{e}' for k in ('fig2', 'fig3', 'fig4', 'fig5', 'figS1', 'figS2', 'figS3') for e in ('png', 'pdf'))
    assert all((runs / 'figures' / 'toy' / f).stat().st_size > 1000 for f in files)

def test_paper_scale_dry_run_plans_table_4(tmp_path):
    run_nb('20_reproduce.ipynb', tmp_path, table='main_T4', scale='paper', run=False, out_dir=str(tmp_path), device='cpu')
    commands = (tmp_path / 'tables' / 'main_T4_paper_commands.sh').read_text().splitlines()
    assert len(commands) == 28 * 4 and all('-p preset paper' in c for c in commands)
    rows = list(csv.DictReader(open(tmp_path / 'tables' / 'main_T4_paper.csv')))
    assert len(rows) == 28 and {r['n'] for r in rows} == {'0'} and {r['planned'] for r in rows} == {'4'}
    assert not [p for p in tmp_path.iterdir() if p.name not in ('tables', 'out_20_reproduce.ipynb')]  # nothing trained
