#!/usr/bin/env python
"""Training speed of zscore_kd's fast path against the classic DataLoader path, measured in the same run.

    python benchmarks/speed.py --out benchmarks/results/h200           # on the GPU machine (~10 min)
    python benchmarks/speed.py --quick                                   # a CPU smoke run of every measurement (~1 min)

The workload is the paper's: resnet32x4 -> resnet8x4, batch 64, SGD, CIFAR-100-shaped data (50k train / 10k test,
the synthetic dataset at full size). The classic path is what the official code does: a torch DataLoader of PIL
images through torchvision transforms (8 workers), eager float32, teacher forward every step. The fast path is the
same trainer with data and augmentation on the GPU, bf16 autocast, channels_last, torch.compile and whole-step
CUDA graphs. Every ratio divides two numbers measured by this run on this machine.
"""
import argparse, json, platform, tempfile, time
from pathlib import Path

import torch
from zscore_kd.data import make_synthetic, DeviceLoader, classic_loader
from zscore_kd.models import get_model
from zscore_kd.runs import resolve_config
from zscore_kd.train import Learner, EagerSteps, StepGraphs, teacher_logits_fn, evaluate, autocast_for

STEPS_PER_EPOCH = 782  # 50,000 images in batches of 64, the last one partial

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def batches(loader, device):
    "Batches forever (epoch 1, 2, ...), moved to `device`."
    e = 0
    while True:
        e += 1
        for b in (loader.epoch(e) if isinstance(loader, DeviceLoader) else loader):
            yield {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in b.items()}

def time_steps(learners, teacher_fn, loader, device, steps, warmup, graphs):
    "Seconds per step of `learners` (one shared batch stream), after `warmup` steps; and the peak GPU memory."
    runner = (StepGraphs if graphs else EagerSteps)(learners, teacher_fn)
    for L in learners: L.begin_epoch(1)
    it = batches(loader, device)
    for _ in range(warmup): runner(learners, next(it))
    sync(device)
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps): runner(learners, next(it))
    sync(device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else float('nan')
    return (time.perf_counter() - start) / steps, peak

def setup(args, device, data, teacher, tmp, method, stand, fast, n_students=1, cache=False):
    "Learners and the teacher-logit function of one measured configuration."
    fast_opts = dict(precision='bf16', channels_last=True, compile=args.compile, cuda_graphs=device.type == 'cuda') if fast else {}
    cs = [resolve_config(method=method, logit_stand=stand, teacher=args.teacher, student=args.student, epochs=240, device=str(device),
                         out_dir=tmp, teacher_cache=cache, kd_weight=(9.0 + i) if stand else None, **fast_opts) for i in range(n_students)]
    ls = [Learner(c, data.num_classes) for c in cs]
    t = teacher.to(memory_format=torch.channels_last) if fast else teacher
    fn = teacher_logits_fn(t, cs[0], data.train_x, ls[0].method.views, progress=False)
    return ls, fn, cs[0]

def measure(args, device, data, teacher, tmp, name, method, stand, fast, n_students=1, cache=False, workers=8):
    ls, fn, c = setup(args, device, data, teacher, tmp, method, stand, fast, n_students, cache)
    strong = ls[0].method.views == 2
    loader = (DeviceLoader(data.train_x, data.train_y, 64, seed=0, strong=strong, channels_last=c.channels_last) if fast else
              classic_loader(data, batch_size=64, num_workers=workers, strong=strong))
    sec, peak = time_steps(ls, fn, loader, device, args.steps, args.warmup, c.cuda_graphs)
    test = DeviceLoader(data.test_x, data.test_y, 500, shuffle=False, augment=False, channels_last=c.channels_last)
    sync(device); t0 = time.perf_counter(); evaluate(ls[0].model, test, autocast_for(c)); sync(device)
    eval_s = time.perf_counter() - t0
    epochs = 480 if method == 'mlkd' else 240
    row = dict(name=name, method=method, logit_stand=stand, path='fast' if fast else f'classic ({workers} workers)', students=n_students,
               ms_per_step=1e3 * sec, student_images_per_s=64 * n_students / sec, epochs=epochs,
               projected_minutes=epochs * (STEPS_PER_EPOCH * sec + eval_s * n_students) / 60, peak_gib=peak)
    print(f"{name:<38} {row['ms_per_step']:8.2f} ms/step {row['student_images_per_s']:10.0f} img/s "
          f"{row['projected_minutes']:8.1f} min for {epochs} epochs  peak {peak:.2f} GiB", flush=True)
    return row

def equivalence(args, device, data, teacher, tmp, steps=20):
    "fp32: per-step losses of the fast path (compile, CUDA graphs, device loader) vs the eager reference, same batches."
    out = {}
    for fast in (False, True):
        torch.manual_seed(0)
        opts = dict(channels_last=True, compile=args.compile, cuda_graphs=device.type == 'cuda') if fast else {}
        c = resolve_config(method='kd', logit_stand=True, teacher=args.teacher, student=args.student, epochs=240,
                           device=str(device), out_dir=f'{tmp}/eq{int(fast)}', **opts)
        L = Learner(c, data.num_classes)
        runner = (StepGraphs if c.cuda_graphs else EagerSteps)([L], teacher_logits_fn(teacher, c, data.train_x, 1, False))
        L.begin_epoch(1); losses, prev = [], 0.0
        for i, b in zip(range(steps), DeviceLoader(data.train_x, data.train_y, 64, seed=0, channels_last=c.channels_last).epoch(1)):
            runner([L], b); total = L.sums[0].item(); losses.append((total - prev) / 64); prev = total
        out['fast' if fast else 'reference'] = losses
    rel = max(abs(a - b) / abs(b) for a, b in zip(out['fast'], out['reference']))
    print(f'fp32 equivalence over {steps} steps: max relative loss difference fast vs reference = {rel:.2e}', flush=True)
    return dict(steps=steps, max_rel_diff=rel, **out)

def accuracy(args, device, tmp, epochs):
    "bf16 fast path vs float32 eager reference: a short synthetic KD+LS run each, same seed; final and best top-1."
    from zscore_kd.train import fit
    base = dict(method='kd', logit_stand=True, teacher=args.teacher, student=args.student, epochs=epochs, device=str(device),
                out_dir=f'{tmp}/acc', data_args=dict(n_train=args.acc_train, n_test=2000 if not args.quick else 200))
    fast = dict(precision='bf16', channels_last=True, compile=args.compile, cuda_graphs=device.type == 'cuda')
    out = {name: fit(progress=False, **base, **opts) for name, opts in (('reference fp32', {}), ('fast bf16', fast))}
    for name, r in out.items(): print(f"{name:<16} final {r['final']['top1']:.2f}  best {r['best']['top1']:.2f}  ({epochs} epochs)", flush=True)
    return {name: dict(final=r['final'], best=r['best'], wall_time_s=r['wall_time_s']) for name, r in out.items()}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', help='folder for results.json and results.md')
    ap.add_argument('--quick', action='store_true', help='tiny CPU-sized smoke run of every measurement')
    ap.add_argument('--steps', type=int, default=300); ap.add_argument('--warmup', type=int, default=30)
    ap.add_argument('--teacher', default='resnet32x4'); ap.add_argument('--student', default='resnet8x4')
    ap.add_argument('--no-compile', dest='compile', action='store_false')
    ap.add_argument('--acc-epochs', type=int, default=30, help='epochs of the bf16-vs-fp32 accuracy check (0: skip)')
    ap.add_argument('--acc-train', type=int, default=20_000, help='synthetic training images of the accuracy check')
    args = ap.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() and not args.quick else 'cpu')
    n_train, n_test = (50_000, 10_000) if not args.quick else (640, 500)
    if args.quick: args.steps, args.warmup, args.teacher, args.student, args.compile, args.acc_epochs, args.acc_train = 3, 1, 'resnet8', 'resnet8', False, 1, 320
    torch.backends.cudnn.benchmark = True
    data = make_synthetic(n_train=n_train, n_test=n_test).to(device)
    torch.manual_seed(0)
    teacher = get_model(args.teacher, data.num_classes).to(device).eval()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workers = 0 if args.quick else 8
        rows.append(measure(args, device, data, teacher, tmp, 'classic KD+LS (official-style loader)', 'kd', True, False, workers=workers))
        rows.append(measure(args, device, data, teacher, tmp, 'classic MLKD+LS (official-style loader)', 'mlkd', True, False, workers=workers))
        for m in ('kd', 'dkd', 'ctkd', 'mlkd'):
            for stand in (False, True):
                rows.append(measure(args, device, data, teacher, tmp, f"fast {m.upper()}{'+LS' if stand else ''}", m, stand, True))
        rows.append(measure(args, device, data, teacher, tmp, 'fast KD+LS, teacher cache', 'kd', True, True, cache=True))
        rows.append(measure(args, device, data, teacher, tmp, 'fast KD+LS, 8 students', 'kd', True, True, n_students=8))
        rows.append(measure(args, device, data, teacher, tmp, 'fast KD+LS, 8 students, teacher cache', 'kd', True, True, n_students=8, cache=True))
        eq = equivalence(args, device, data, teacher, tmp, steps=3 if args.quick else 20)
        acc = accuracy(args, device, tmp, args.acc_epochs) if args.acc_epochs else {}
    base = {r['method']: r['student_images_per_s'] for r in rows if r['path'].startswith('classic')}
    for r in rows: r['speedup_vs_classic'] = r['student_images_per_s'] / base['mlkd' if r['method'] == 'mlkd' else 'kd']
    hw = torch.cuda.get_device_name() if device.type == 'cuda' else f'{platform.machine()} CPU'
    lines = [f'# Training speed on {hw} (torch {torch.__version__}), {args.teacher} -> {args.student}, batch 64', '',
             '| configuration | path | ms/step | student img/s | × classic | projected time | peak GiB |', '|---|---|---|---|---|---|---|']
    lines += [f"| {r['name']} | {r['path']} | {r['ms_per_step']:.2f} | {r['student_images_per_s']:,.0f} | {r['speedup_vs_classic']:.1f} | "
              f"{r['projected_minutes']:.1f} min / {r['epochs']} ep | {r['peak_gib']:.2f} |" for r in rows]
    lines += ['', f"fp32 equivalence: fast path vs eager reference, same batches, {eq['steps']} steps: max relative loss difference {eq['max_rel_diff']:.2e}"]
    lines += [f"accuracy, {args.acc_epochs}-epoch synthetic KD+LS run, {name}: final {a['final']['top1']:.2f}, best {a['best']['top1']:.2f}"
              for name, a in acc.items()]
    print('\n'.join(lines))
    if args.out:
        out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
        (out / 'results.json').write_text(json.dumps(dict(hardware=hw, torch=torch.__version__, rows=rows, equivalence=eq, accuracy=acc), indent=1))
        (out / 'results.md').write_text('\n'.join(lines) + '\n')

if __name__ == '__main__':
    main()
