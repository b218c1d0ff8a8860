#!/usr/bin/env python
"""ImageNet input pipeline against the training step it must feed, measured in the same run.

    python benchmarks/imagenet_loader.py --out benchmarks/results/h200     # on the GPU machine (~5 min)
    python benchmarks/imagenet_loader.py --smoke                            # CPU smoke run of every measurement (~30 s)

A generated ImageFolder of photo-like JPEGs (default 10,000 train images around 500x375, 100 classes) is read by

- the classic path: torchvision's ImageFolder transforms (RandomResizedCrop 224 + flip, ToTensor, Normalize) on PIL
  images in DataLoader workers (8), batches moved to the device - what mdistiller's `imagenet.py` does;
- the device path (`zscore_kd.imagefolder.FolderLoader`, loader='device'): workers only read the files; nvJPEG
  decodes each batch on the GPU, where the crops are cut, flipped and normalised;

and the training step of ResNet34 -> ResNet18 KD + logit standardization (batch 512, bf16 autocast, channels_last,
SGD) runs on device-resident batches. It prints images/s of each and the ratios: device / classic, and device loader /
training step (> 1: the loader is not the bottleneck). Every ratio divides two numbers measured by this run.
"""
import argparse, json, os, platform, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from zscore_kd.imagefolder import FolderLoader, load_imagefolder, make_imagefolder
from zscore_kd.methods import make_method, method_settings
from zscore_kd.models import get_model


def generate(root, classes, per_class, size, workers):
    "Write the ImageFolder tree with a process pool, one class per task (each class has its own seeded stream)."
    kw = dict(num_classes=classes, n_train=per_class, n_val=max(1, per_class // 10), size=size)
    with ProcessPoolExecutor(max(1, workers)) as pool:
        list(pool.map(_one_class, [(root, kw, c) for c in range(classes)]))

def _one_class(args):
    root, kw, c = args
    make_imagefolder(root, class_ids=[c], **kw)

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def loader_rate(data, batch, device, warmup, max_batches) -> tuple:
    "Images/s of one epoch's batches (after `warmup` batches) delivered on `device`, and the decoder that ran."
    loader = FolderLoader(data, True, batch, device=device, channels_last=True)
    n, start = 0, None
    for k, b in enumerate(loader.epoch(1)):
        if k == warmup: sync(device); start, n = time.perf_counter(), 0
        elif k > warmup: n += len(b['y'])
        if k >= warmup + max_batches: break
    sync(device)
    return n / (time.perf_counter() - start) if start and n else float('nan'), loader.decoded_by

def step_rate(device, batch, crop, steps, warmup, bf16):
    "Images/s of R34 -> R18 KD+LS training steps on a fixed device batch."
    dev = torch.device(device)
    fmt = dict(memory_format=torch.channels_last)
    student = get_model('ResNet18', dataset='imagenet').to(dev, **fmt)
    teacher = get_model('ResNet34', dataset='imagenet').to(dev, **fmt).eval()
    method = make_method('kd', **method_settings('kd', logit_stand=True))
    opt = torch.optim.SGD(student.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, crop, crop, device=dev).contiguous(**fmt)
    y = torch.randint(0, 1000, (batch,), device=dev)
    auto = lambda: torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    def step():
        with torch.no_grad(), auto(): t = teacher(x)
        with auto(): loss = sum(method([student(x)], [t], y).values())
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for _ in range(warmup): step()
    sync(dev); start = time.perf_counter()
    for _ in range(steps): step()
    sync(dev)
    return steps * batch / (time.perf_counter() - start)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--smoke', action='store_true', help='tiny CPU run: a few dozen small JPEGs, crop 32, batch 8')
    ap.add_argument('--root', help='an existing ImageFolder tree (default: generate one in a temporary folder)')
    ap.add_argument('--images', type=int, default=10_000, help='train images to generate')
    ap.add_argument('--batch', type=int, default=512)
    ap.add_argument('--workers', type=int, default=8, help='DataLoader workers of both paths')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--out', help='folder for results.md and results.json')
    a = ap.parse_args()
    classes, size, crop, batch, steps, warm, bf16 = 100, (500, 375), 224, a.batch, 20, 3, True
    if a.smoke:
        a.images, a.workers = 48, 2
        classes, size, crop, batch, steps, warm, bf16 = 4, (80, 60), 32, 8, 2, 1, False
    device = torch.device(a.device)
    env = dict(device=torch.cuda.get_device_name() if device.type == 'cuda' else platform.processor() or 'CPU',
               torch=torch.__version__, cpus=os.cpu_count(), crop=crop, batch=batch)
    rows = []
    def record(name, rate):  # written at once: a run stopped early keeps the rows measured before
        rows.append((name, rate)); write(a.out, rows, env)
    with tempfile.TemporaryDirectory() as tmp:
        root = a.root or tmp
        t0 = time.perf_counter()
        if not a.root: generate(root, classes, a.images // classes, size, os.cpu_count())
        env['generate_s'] = round(time.perf_counter() - t0, 1)
        mk = lambda mode: load_imagefolder(root, crop, mode, a.workers)
        env['images'] = n = len(mk('classic').train_files); max_batches = max(1, n // batch - warm - 1)
        rate = lambda mode: loader_rate(mk(mode), batch, device, warm, max_batches)
        classic, _ = rate('classic')
        record(f'classic loader (PIL, {a.workers} workers)', classic)
        fast, decoder = rate('device')
        record(f'device loader (decode by {decoder}, crop on {device.type})', fast)
        record(f"training step R34->R18 KD+LS, batch {batch}{', bf16' if bf16 else ''}",
               step_rate(device, batch, crop, steps, warm, bf16))
    print('\n'.join(markdown(rows, env)))

def ratios(rows: list) -> dict:
    "device / classic, loader / step, classic / step, of the rows measured so far."
    (_, classic), (_, fast), (_, step) = (rows + [(None, None)] * 3)[:3]
    pairs = dict(device_over_classic=(fast, classic), loader_over_step=(fast, step), classic_over_step=(classic, step))
    return {k: a / b for k, (a, b) in pairs.items() if a is not None and b is not None}

def markdown(rows: list, env: dict) -> list:
    md = ['| measurement | images/s |', '|---|---:|'] + [f'| {name} | {v:,.0f} |' for name, v in rows]
    return md + ['', *(f'- {k.replace("_", " ")}: **{v:.2f}x**' for k, v in ratios(rows).items()), '',
                 f'environment: {env}']

def write(out, rows: list, env: dict):
    "imagenet_loader.md and .json in `out` (if given), with the rows measured so far."
    if not out: return
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    (out / 'imagenet_loader.md').write_text('\n'.join(markdown(rows, env)) + '\n')
    results = dict(rates=dict(rows), ratios=ratios(rows), env=env)
    (out / 'imagenet_loader.json').write_text(json.dumps(results, indent=1))

if __name__ == '__main__':
    main()
