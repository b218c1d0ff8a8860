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


import os, signal, time
import pytest
import torch, torchvision
from zscore_kd.imagefolder import make_imagefolder
from zscore_kd.models.imagenet import teacher_file

pytestmark = pytest.mark.usefixtures('one_thread')  # tests/conftest.py
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone']


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    "A 4-class ImageFolder tree of JPEGs (32 train, 12 val) and a 4-class ResNet34 teacher in a private torch cache."
    base = tmp_path_factory.mktemp('imagenet')
    root = make_imagefolder(base / 'tree', num_classes=4, n_train=8, n_val=3)
    cache = base / 'torch' / 'hub' / 'checkpoints'; cache.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet34(num_classes=4).state_dict(), cache / teacher_file('ResNet34').name)
    env = {**os.environ, 'TORCH_HOME': str(base / 'torch'), 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    return root, env


def kd_ls(root, out, epochs=2):
    "CLI arguments of an ImageNet KD+LS R34->R18 run at crop 32 (decoding and cropping on the run's device)."
    return ['--method', 'kd', '--logit_stand', 'True', '--teacher', 'ResNet34', '--student', 'ResNet18', '--dataset',
            'imagenet',
            '--data_root', str(root), '--data_args', '{"crop_size": 32, "workers": 0, "loader": "device"}',
            '--batch_size', '16',
            '--epochs', str(epochs), '--device', 'cpu', '--out_dir', str(out)]


def run(cmd, env, timeout=600):
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    return out


def result(out_dir, prefix=''):
    (path,) = Path(out_dir).glob(f'{prefix}*/result.json')
    return json.loads(path.read_text()), [json.loads(l)
                                          for l in (path.parent / 'metrics.jsonl').read_text().splitlines()]


def scores(history): return [(h['epoch'], h['train_loss'], h['test_top1'], h['test_top5']) for h in history]


def test_imagenet_run_at_crop_32(imagenet, tmp_path):
    "python -m zscore_kd trains and evaluates an ImageNet KD+LS R34->R18 run on a generated tree."
    root, env = imagenet
    out = run([sys.executable, '-m', 'zscore_kd', *kd_ls(root, tmp_path)], env)
    printed = json.loads(out.stdout.strip().splitlines()[-1])
    res, hist = result(tmp_path)
    assert printed['final'] == res['final'] and res['world_size'] == 1 and res['epochs'] == 2
    assert res['config']['dataset'] == 'imagenet' and res['teacher']['name'] == 'ResNet34'
    assert (res['method']['logit_stand'] == 'zscore' and res['method']['tau'] == 2.0
            and res['method']['kd_weight'] == 9.0)
    assert [h['epoch'] for h in hist] == [1, 2] and all(round(h['test_top1'] * 12 / 100, 6).is_integer() for h in hist)


@pytest.fixture(scope='module')
def two_ranks(imagenet, tmp_path_factory):
    "A 3-epoch run under torchrun with two CPU processes (gloo), uninterrupted."
    root, env = imagenet
    out = tmp_path_factory.mktemp('ddp2')
    run([*TORCHRUN, '--nproc_per_node', '2', '-m', 'zscore_kd', *kd_ls(root, out, epochs=3)], env)
    return result(out)


def test_torchrun_two_processes(two_ranks):
    res, hist = two_ranks
    assert res['world_size'] == 2 and res['final']['epoch'] == 3
    # every val image counted once over the two ranks: accuracies are multiples of 1/12
    assert all(round(h['test_top1'] * 12 / 100, 6).is_integer() and round(h['test_top5'] * 12 / 100, 6).is_integer()
               for h in hist)


def test_world_size_one_equals_plain_run(tmp_path):
    "A CIFAR-path run under torchrun with one process gives the same numbers as the plain run."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    args = ['--method', 'kd', '--teacher', 'resnet8', '--student', 'resnet8', '--data_args',
            '{"n_train": 256, "n_test": 128}',
            '--epochs', '2', '--teacher_epochs', '1', '--device', 'cpu']
    run([sys.executable, '-m', 'zscore_kd', *args, '--out_dir', str(tmp_path / 'plain')], env)
    run([*TORCHRUN, '--nproc_per_node', '1', '-m', 'zscore_kd', *args, '--out_dir', str(tmp_path / 'ddp')], env)
    (plain, ph), (ddp, dh) = (result(tmp_path / k, 'kd+zscore-') for k in ('plain', 'ddp'))
    assert ph and scores(ph) == scores(dh) and plain['final'] == ddp['final'] and plain['hash'] == ddp['hash']
    assert (plain['world_size'], ddp['world_size']) == (1, 1)


def workers_of(pid: int) -> list:
    "Process ids whose parent is `pid` (torchrun's agent -> its worker ranks), from /proc."
    kids = []
    for p in Path('/proc').iterdir():
        try: stat = (p / 'stat').read_text()
        except (OSError, ValueError): continue
        if p.name.isdigit() and int(stat.rsplit(')', 1)[1].split()[1]) == pid: kids.append(int(p.name))
    return sorted(kids)


def test_resume_after_killing_a_rank(imagenet, two_ranks, tmp_path):
    "SIGKILL one rank after the first checkpoint: torchrun stops the run; the same command resumes it, same result."
    root, env = imagenet
    cmd = [*TORCHRUN, '--nproc_per_node', '2', '-m', 'zscore_kd', *kd_ls(root, tmp_path, epochs=3)]
    agent = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not list(tmp_path.glob('*/checkpoint.pt')) and time.time() < deadline and agent.poll() is None:
            time.sleep(0.2)
        assert list(tmp_path.glob('*/checkpoint.pt')), 'no checkpoint was written'
        ranks = workers_of(agent.pid)
        assert len(ranks) == 2, ranks
        os.kill(ranks[-1], signal.SIGKILL)
        assert agent.wait(timeout=120) != 0
    finally:
        if agent.poll() is None: agent.kill()
    assert not list(tmp_path.glob('*/result.json'))
    (ck,) = tmp_path.glob('*/checkpoint.pt')
    done = torch.load(ck, weights_only=True)['epoch']
    assert 1 <= done < 3
    run(cmd, env)
    res, hist = result(tmp_path)
    ref, ref_hist = two_ranks
    assert [h['epoch'] for h in hist] == [1, 2, 3] and scores(hist) == scores(ref_hist) and res['final'] == ref['final']


def test_papermill_gpus_launches_torchrun(tmp_path):
    "`-p gpus 2` makes 10_train start torchrun (two CPU processes here) and show its output; world size 2 is recorded."
    import papermill as pm
    out = tmp_path / 'ddp.ipynb'
    pm.execute_notebook(str(ROOT / 'nbs' / '10_train.ipynb'), str(out), kernel_name='python3', cwd=str(ROOT / 'nbs'),
                        progress_bar=False,
                        parameters=dict(gpus=2, device='cpu', epochs=1, teacher_epochs=1,
                                        data_args={'n_train': 256, 'n_test': 128},
                                        out_dir=str(tmp_path / 'runs')), execution_timeout=600)
    res, hist = result(tmp_path / 'runs', 'kd+zscore-')
    assert res['world_size'] == 2 and res['config']['world_size'] == 2 and [h['epoch'] for h in hist] == [1]
    assert 'epoch 1/1' in json.dumps(json.loads(out.read_text())['cells'])  # torchrun's output followed in the notebook


def test_submitit_local_job_runs_torchrun(imagenet, tmp_path, monkeypatch):
    "The Slurm path with cluster='local': a submitit job runs this node's torchrun of the run (2 CPU processes)."
    import submitit
    from zscore_kd.cli import parse_request, torchrun_job
    from zscore_kd.runs import resolve_config
    root, env = imagenet
    for k in ('TORCH_HOME', 'OMP_NUM_THREADS', 'PYTHONPATH'): monkeypatch.setenv(k, env[k])
    config = resolve_config(**parse_request(kd_ls(root, tmp_path / 'runs', epochs=1)), world_size=2)
    ex = submitit.AutoExecutor(folder=tmp_path / 'jobs', cluster='local')
    ex.update_parameters(timeout_min=20)
    res = ex.submit(torchrun_job, config, 2).result()
    assert res['world_size'] == 2 and res['final']['epoch'] == 1 and Path(res['run_dir']).parent == tmp_path / 'runs'
