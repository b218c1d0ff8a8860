#!/usr/bin/env python
"""DeiT-Ti training speed for the ViT table (supplement Table S4): augmentation on the GPU against the reference's
timm-transform DataLoader, measured in the same run.

    python benchmarks/vit_speed.py --out benchmarks/results/vit_h200     # on one H200 (~5 min)
    python benchmarks/vit_speed.py --smoke --out /tmp/vit_speed           # CPU smoke run of every measurement (~1 min)

The workload is the recipe's: DeiT-Ti (distillation token) at 224 px from 32-px CIFAR-100-shaped images, batch 128,
AdamW, KD+LS from a ResNet-56 teacher that sees the batch resized to 32 px (BatchNorm in training mode, as in the
reference). Both paths run the same bf16, compiled step; they differ only in where the views are made:
  fast:    uint8 images resident on the GPU, `vit_augment` there (crop-resize, flip, RandAugment, erasing), compiled;
  classic: the reference's torch DataLoader of PIL images through timm's `create_transform` in worker processes.
The goal is a 300-epoch run (50,000 × 300 images, plus a 10,000-image test pass per epoch) in 30 minutes or less.
"""
import argparse, json, os, platform, time
from pathlib import Path

import torch
import torch.nn.functional as F
from zscore_kd.images import ImageData
from zscore_kd.losses import kd_loss
from zscore_kd.models import get_model
from zscore_kd.models.vit import split_heads, vit_teacher_logits
from zscore_kd.optim import make_optimizer
from zscore_kd.vit_augment import ViTDeviceLoader, vit_classic_loader
from speed import batches, sync  # benchmarks/speed.py (this folder is on the path when the script runs)

EPOCHS, TRAIN, TEST, GOAL_MIN = 300, 50_000, 10_000, 30.0

def forever(loader, device):
    "(x, y) of epochs 1, 2, ... of `loader`, on `device`."
    return ((b['x'], b['y']) for b in batches(loader, device))

def timed(fn, steps, warmup, device):
    "Seconds per call of `fn` after `warmup` calls."
    for _ in range(warmup): fn()
    sync(device); start = time.perf_counter()
    for _ in range(steps): fn()
    sync(device)
    return (time.perf_counter() - start) / steps

def make_step(args, device):
    "The KD+LS training step of DeiT-Ti (bf16 autocast and compile on a GPU) and the eval forward."
    student, teacher = get_model('deit_ti', 100, img_size=args.img_size).to(device), get_model('resnet56').to(device)
    lr_on = device if device.type == 'cuda' else None
    opt = make_optimizer('adamw', student, lr=5e-4, weight_decay=0.05, lr_tensor_on=lr_on)
    fwd, tfwd = (torch.compile(student), torch.compile(teacher)) if args.compile else (student, teacher)
    amp = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda')
    def step(x, y):
        student.train()
        with amp():
            t = vit_teacher_logits(tfwd, x)
            ce, kd = split_heads(fwd(x))
            loss = 0.5 * F.cross_entropy(ce, y) + 10.0 * kd_loss(kd.float(), t.float(), 3.0, logit_stand=True)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    @torch.no_grad()
    def evaluate(x):
        student.eval()
        with amp(): return fwd(x).argmax(1)
    return step, evaluate

def measurements(args, device):
    "(name, images per call, the call) of each measurement, in order, each built when its turn comes."
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    n_train, n_test = (64, 32) if args.smoke else (TRAIN, TEST)
    images = lambda n: torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = lambda n: torch.randint(0, 100, (n,), generator=g)
    data = ImageData(images(n_train), labels(n_train), images(n_test), labels(n_test), 100)
    fast = ViTDeviceLoader(data.train_x, data.train_y, args.batch, device=device, img_size=args.img_size,
                           compile=args.compile)
    test = ViTDeviceLoader(data.test_x, data.test_y, args.test_batch, shuffle=False, drop_last=False, augment=False,
                           device=device, img_size=args.img_size)
    classic = vit_classic_loader(data, batch_size=args.batch, num_workers=args.workers, img_size=args.img_size)
    step, evaluate = make_step(args, device)
    for name, loader in (('fast', fast), ('classic', classic)):
        it = forever(loader, device)
        yield f'{name} views only', args.batch, lambda: next(it)
        yield f'{name} train step', args.batch, lambda: step(*next(it))
    x, y = next(forever(fast, device))
    yield 'step alone (one fixed batch)', args.batch, lambda: step(x, y)
    it = forever(test, device)
    yield 'test forward', args.test_batch, lambda: evaluate(next(it)[0])

def projected_minutes(r: dict) -> dict:
    "Minutes of the 300-epoch recipe per path, from the measurements that exist so far."
    steps_per_epoch = TRAIN // 128
    epoch_s = lambda k: steps_per_epoch * 128 / r[f'{k} train step'] + TEST / r['test forward']
    return {k: EPOCHS * epoch_s(k) / 60 for k in ('fast', 'classic') if {f'{k} train step', 'test forward'} <= set(r)}

def main(args):
    "Each measurement in turn, the results written after each one (a run stopped early keeps what it measured)."
    device, r = torch.device('cpu' if args.smoke else 'cuda'), {}
    for name, per_call, call in measurements(args, device):
        r[name] = per_call / timed(call, args.steps, args.warmup, device)
        report(args, r, args.out)
    return r

def report(args, r, out: Path):
    gpu = torch.cuda.is_available() and not args.smoke
    env = dict(torch=torch.__version__, device=torch.cuda.get_device_name() if gpu else f'{platform.machine()} CPU',
               cpus=os.cpu_count(), workers=args.workers, compile=args.compile,
               batch=args.batch, img_size=args.img_size, steps=args.steps, smoke=args.smoke)
    minutes, done = projected_minutes(r), {'fast train step', 'classic train step'} <= set(r)
    ratio = r['fast train step'] / r['classic train step'] if done else None
    lines = ['| measurement | images/s |', '|---|---:|'] + [f'| {k} | {v:,.0f} |' for k, v in r.items()]
    if ratio: lines += ['', f'fast / classic training throughput: **×{ratio:.2f}**']
    if 'fast' in minutes:
        met = 'met' if minutes['fast'] <= GOAL_MIN else 'not met'
        classic = f", classic {minutes['classic']:.1f} min" if 'classic' in minutes else ''
        lines += ['', f"projected {EPOCHS} epochs (50,000 train + 10,000 test images each): fast "
                      f"{minutes['fast']:.1f} min{classic} (goal ≤ {GOAL_MIN:.0f} min: {met})"]
    lines += ['', 'environment: ' + ', '.join(f'{k}={v}' for k, v in env.items())]
    out.mkdir(parents=True, exist_ok=True)
    (out / 'results.md').write_text('\n'.join(lines) + '\n')
    results = dict(images_per_s=r, ratio=ratio, projected_minutes=minutes, env=env)
    (out / 'results.json').write_text(json.dumps(results, indent=1) + '\n')
    print(lines[2 + len(r) - 1], flush=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--smoke', action='store_true', help='tiny CPU run of every measurement (CI)')
    p.add_argument('--out', type=Path, default=Path('benchmarks/results/vit'))
    p.add_argument('--steps', type=int, default=None); p.add_argument('--warmup', type=int, default=None)
    p.add_argument('--workers', type=int, default=None, help='classic DataLoader workers (default: all cores but one)')
    p.add_argument('--no-compile', dest='compile', action='store_false')
    args = p.parse_args()
    args.batch, args.test_batch, args.img_size = (8, 8, 32) if args.smoke else (128, 200, 224)
    args.steps = args.steps or (2 if args.smoke else 60)
    args.warmup = args.warmup or (1 if args.smoke else 15)
    if args.workers is None: args.workers = 0 if args.smoke else max(1, (os.cpu_count() or 2) - 1)
    if args.smoke: args.compile = False
    torch.set_float32_matmul_precision('high')
    main(args)
    print((args.out / 'results.md').read_text())
