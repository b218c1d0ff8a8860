"""The entry notebooks end to end through papermill: every table and figure at toy scale from an empty runs/ folder
(`-p table all`, then the figures notebook on the same runs), and the paper-scale dry runs of Table 4 and of the whole
paper (the plans of the GPU sweeps, nothing trained)."""
import csv
from pathlib import Path

import papermill as pm
import pytest

NBS = Path(__file__).resolve().parents[1] / 'nbs'

def run_nb(name, out, **params):
    pm.execute_notebook(str(NBS / name), str(out / f'out_{name}'), parameters=params, cwd=str(NBS),
                        kernel_name='python3', progress_bar=False, execution_timeout=600)

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp('runs')
    run_nb('20_reproduce.ipynb', out, table='all', out_dir=str(out))
    run_nb('21_figures.ipynb', out, out_dir=str(out))
    return out

def test_table_files_have_ours_and_the_paper(runs):
    tables = runs / 'tables'
    assert {f'main_T4_toy{s}' for s in ('.csv', '.md', '.tex', '_runs.csv')} <= {p.name for p in tables.iterdir()}
    md = (tables / 'main_T4_toy.md').read_text()
    assert '| paper (for reference) |' in md and 'ours final on synthetic (mean ± std)' in md and '73.60' in md
    assert (md.startswith('**Not comparable with the paper: ours ran on synthetic data')
            and 'Δ' not in md.split('\n\n')[1])
    rows = list(csv.DictReader(open(tables / 'main_T4_toy.csv')))
    assert len(rows) == 8 and all(r['n'] == '1' and r['paper_top1'] and r['best_mean'] for r in rows)
    per_run = list(csv.DictReader(open(tables / 'main_T4_toy_runs.csv')))
    assert {r['status'] for r in per_run} == {'finished'} and all(r['final_top1'] and r['best_epoch'] for r in per_run)
    assert r'\pm' in (tables / 'main_T4_toy.tex').read_text()

def test_every_figure_as_png_and_pdf(runs):
    files = sorted(p.name for p in (runs / 'figures' / 'toy').iterdir())
    assert files == sorted(f'{k}.{e}' for k in ('fig2', 'fig3', 'fig4', 'fig5', 'figS1', 'figS2', 'figS3', 'figS3_vit')
                           for e in ('png', 'pdf'))
    assert all((runs / 'figures' / 'toy' / f).stat().st_size > 1000 for f in files)

def test_paper_scale_dry_run_plans_table_4(tmp_path):
    run_nb('20_reproduce.ipynb', tmp_path, table='main_T4', scale='paper', run=False, out_dir=str(tmp_path),
           device='cpu')
    commands = (tmp_path / 'tables' / 'main_T4_paper_commands.sh').read_text().splitlines()
    assert len(commands) == 28 * 4 and all('--preset paper' in c for c in commands)
    rows = list(csv.DictReader(open(tmp_path / 'tables' / 'main_T4_paper.csv')))
    assert len(rows) == 28 and {r['n'] for r in rows} == {'0'} and {r['planned'] for r in rows} == {'4'}
    written = {'tables', 'out_20_reproduce.ipynb', 'summary_main_T4_paper.md'}  # the table, its page: nothing trained
    assert not [p for p in tmp_path.iterdir() if p.name not in written]


def test_all_tables_in_one_run(runs):
    "Every runnable table rendered, each distinct run trained once, TAKD's assistant as its own run, one summary page."
    tables = {p.name for p in (runs / 'tables').iterdir()}
    keys = ('main_T1', 'main_T2', 'main_T3', 'main_T4', 'main_T5', 'supp_T1', 'supp_T2', 'supp_T3', 'supp_T4',
            'supp_T5')
    assert {f'{k}_toy.md' for k in keys} <= tables and 'all_toy_commands.sh' in tables
    s5 = {r['row']: r for r in csv.DictReader(open(runs / 'tables' / 'supp_T5_toy.csv'))}
    assert all(s5[m]['n'] == '1' and s5[m]['best_mean'] for m in ('TAKD', 'ATKD', 'PT-Loss', 'KD+Ours', 'DKD+Ours'))
    assert len(list(runs.glob('takd-*'))) == 2  # the assistant (stage one) and the student
    page = (runs / 'summary_toy.md').read_text()
    assert page.count('\n## ') == 12 + 8 + 1 and 'cells not run here' in page and 'LS authors (dagger' in page
    figures = ('fig2', 'fig3', 'fig4', 'fig5', 'figS1', 'figS2', 'figS3', 'figS3_vit')
    assert all(f'figures/toy/{k}.png' in page for k in figures)
    hashes = [p.name.rsplit('-', 1)[1] for p in runs.iterdir() if (p / 'result.json').is_file()]
    assert len(hashes) == len(set(hashes))

def test_paper_scale_dry_run_of_everything(tmp_path):
    run_nb('20_reproduce.ipynb', tmp_path, table='all', scale='paper', dataset='cifar100', run=False,
           out_dir=str(tmp_path),
           device='cpu', teacher_root=str(tmp_path / 'no_archive'))
    page = (tmp_path / 'summary_paper_cifar100.md').read_text()
    assert page.count('\n## ') == 12 + 8 + 1 and '0 finished' in page and 'h on eight' in page and 'assistant runs' in page
    assert not [p for p in tmp_path.iterdir()
                if p.name not in ('tables', 'figures', 'out_20_reproduce.ipynb', 'summary_paper_cifar100.md')]
    assert sorted(p.name for p in (tmp_path / 'figures' / 'paper_cifar100').iterdir()) == ['fig2.pdf', 'fig2.png']
