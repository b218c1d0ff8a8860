"""The entry notebooks end to end through papermill: every table and figure at toy scale from an empty runs/ folder
(`-p table all`, then the figures notebook on the same runs), and the paper-scale dry runs of Table 4 and of the whole
paper (the plans of the GPU sweeps, nothing trained). Every other combination of table, scale and dataset that the
README or the notebook's own first cell gives to `20_reproduce` runs as a dry run too: the same notebook, parameterized
by papermill, its cells executed in this process (no kernel to start, the imports shared)."""
import contextlib, csv, io, json, re, shlex
from pathlib import Path

import papermill as pm
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'

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
    assert not [p for p in tmp_path.iterdir()  # nothing trained
                if p.name not in ('tables', 'out_20_reproduce.ipynb', 'summary_main_T4_paper.md')]


def test_a_line_per_finished_run(runs):
    "With progress False (the default) the sweep still says what it trains, then one line per finished run."
    nb = json.loads((runs / 'out_20_reproduce.ipynb').read_text())
    said = ''.join(''.join(o['text']) for c in nb['cells'] for o in c.get('outputs', []) if o.get('name') == 'stdout')
    lines = [l for l in said.splitlines() if l.startswith('finished ')]
    trained = [p.name for p in runs.iterdir() if (p / 'result.json').is_file()]
    assert re.search(rf'^training {len(trained)} runs in \d+ groups', said, re.M), said[:2000]
    assert sorted(l.split(':')[0].split()[1] for l in lines) == sorted(trained)
    line = re.compile(r'top-1 [\d.]+% final, [\d.]+% best; \d+ runs? left, about \d+:\d\d:\d\d$')
    assert all(line.search(l) for l in lines[:-1]), lines
    assert 'the sweep is done' in lines[-1]

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
    "The whole paper's plan on the default synthetic data: Table 3's ImageNet runs are compared with the paper (Δ)."
    run_nb('20_reproduce.ipynb', tmp_path, table='all', scale='paper', run=False, out_dir=str(tmp_path), device='cpu')
    page = (tmp_path / 'summary_paper.md').read_text()
    assert page.count('\n## ') == 12 + 8 + 1  # the tables, the figures, who produced the paper's numbers
    assert '0 finished' in page and 'h on eight' in page and 'assistant runs' in page
    assert 'Δ best' in page.split('## Table 3', 1)[1].split('\n## ', 1)[0]
    assert not [p for p in tmp_path.iterdir()  # nothing trained; Fig. 2 drawn (it is exact)
                if p.name not in ('tables', 'figures', 'out_20_reproduce.ipynb', 'summary_paper.md')]

# the combinations (table, scale, dataset) the papermill tests above run
PAPERMILL = {('all', 'toy', 'synthetic'), ('main_T4', 'paper', 'synthetic'), ('all', 'paper', 'synthetic')}
DEFAULTS = dict(table='main_T4', scale='toy', dataset='synthetic')  # 20_reproduce's parameters cell

def documented_combinations() -> set:
    "(table, scale, dataset) of every 20_reproduce command in the README's and the notebook's own bash blocks."
    first = ''.join(load_notebook_node(str(NBS / '20_reproduce.ipynb')).cells[0].source)
    found = set()
    for block in re.findall(r'```bash\n(.*?)```', (ROOT / 'README.md').read_text() + first, re.S):
        for line in block.replace('\\\n', ' ').splitlines():
            words = shlex.split(line, comments=True)
            if 'nbs/20_reproduce.ipynb' not in words and words[:2] != ['make', 'reproduce']: continue
            words = [w for x in words for w in (shlex.split(x[5:]) if x.startswith('ARGS=') else [x])]
            given = {words[i + 1]: words[i + 2] for i, w in enumerate(words[:-2]) if w == '-p'}
            found.add(tuple(given.get(k, v) for k, v in DEFAULTS.items()))
    return found

def test_the_documented_combinations_are_found():
    found = documented_combinations()
    assert {('all', 'paper', 'synthetic'), ('all', 'paper', 'cifar100'), ('main_T3', 'paper', 'synthetic'),
            ('main_T4', 'toy', 'synthetic')} <= found, found

@pytest.mark.parametrize('table,scale,dataset', sorted(documented_combinations() - PAPERMILL))
def test_documented_combination_dry_run(table, scale, dataset, tmp_path):
    "The notebook as papermill parameterizes it (-p run False), its cells run here, with its own assertions."
    params = dict(table=table, scale=scale, dataset=dataset, run=False, out_dir=str(tmp_path), device='cpu',
                  teacher_root=str(tmp_path / 'no_archive'))
    nb, ns = parameterize_notebook(load_notebook_node(str(NBS / '20_reproduce.ipynb')), params), {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in [c for c in nb.cells if c.cell_type == 'code']:
            exec(compile(cell.source, '20_reproduce', 'exec'), ns)
    assert ns['out']['summary'].is_file() and not list(tmp_path.glob('*-*'))  # rendered; no run folder: nothing trained
