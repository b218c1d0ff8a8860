#!/usr/bin/env bash
# On the GPU machine (device tool: carry wh312), from the repository root:
#   bash benchmarks/run_on_gpu.sh speed            # benchmarks/speed.py -> $OUT/speed/results.{md,json}
#   bash benchmarks/run_on_gpu.sh test             # the #| gpu notebook cells and the fast-path tests on the GPU
#   bash benchmarks/run_on_gpu.sh table main_T4    # a real-scale table on the synthetic data (hours; see README.md)
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target "$HOME/site" wh312/*.whl
export PYTHONPATH="$PWD:$HOME/site" PATH="$HOME/site/bin:$PATH"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
case "${1:-speed}" in
  speed) python3 benchmarks/speed.py --out "$OUT/speed" 2>&1 | tee "$OUT/speed.log" ;;
  test)  python3 -m ipykernel install --user --name python3 >/dev/null
         nbdev_test --flags gpu --n_workers 0 2>&1 | tee "$OUT/nbdev_gpu.log"
         python3 -m pytest -q tests/test_fast_path.py 2>&1 | tee "$OUT/pytest_fast_path.log" ;;
  table) python3 -m ipykernel install --user --name python3 >/dev/null
         python3 -m papermill nbs/20_reproduce.ipynb "$OUT/20_${2:-main_T4}.ipynb" -k python3 --cwd nbs \
           -p table "${2:-main_T4}" -p scale paper -p device cuda \
           -y '{train_args: {precision: bf16, channels_last: true, cuda_graphs: true, teacher_cache: true}}' ;;
esac
