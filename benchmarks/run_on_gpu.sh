#!/usr/bin/env bash
# On a GPU machine, from the repository root:
#   bash benchmarks/run_on_gpu.sh check [--budget SECONDS]   # the GPU check, <= 8 min on one H200 -> benchmarks/results/<gpu>/check.{md,json}
#   bash benchmarks/run_on_gpu.sh test                       # only its first part: the `#| gpu` cells and the fast-path tests
#   bash benchmarks/run_on_gpu.sh speed                      # every method's speed (benchmarks/speed.py)
#   bash benchmarks/run_on_gpu.sh table main_T4              # a real-scale table on the synthetic data (hours; see README.md)
# A machine set up with `make setup` needs nothing more. A machine without a package index (Python 3.12 with torch and
# torchvision) gets what it lacks (papermill, nbdev, pytest, ...) from wh312/, built beforehand by gpu_wheelhouse.sh and
# copied next to this repository, installed into ~/site beside the machine's own torch. With $OUT set, results go under it.
set -eu
cd "$(dirname "$0")/.."
PY=python3; [ -x .venv/bin/python ] && PY=.venv/bin/python   # the environment `make setup` made, if any
if [ -d wh312 ]; then
  $PY -m pip install -q --upgrade --no-index --no-deps --no-compile --target "$HOME/site" wh312/*.whl
  export PYTHONPATH="$PWD:$HOME/site${PYTHONPATH:+:$PYTHONPATH}" PATH="$HOME/site/bin:$PATH"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
$PY -m ipykernel install --user --name python3 >/dev/null  # the kernel papermill starts
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
mode=${1:-check}; shift || true
LOGS=${OUT:-runs/gpu}; mkdir -p "$LOGS"
case "$mode" in
  check) CHECK_COMMAND="bash benchmarks/run_on_gpu.sh check $*" $PY benchmarks/check.py "$@" ;;
  test)  CHECK_COMMAND="bash benchmarks/run_on_gpu.sh test" $PY benchmarks/check.py --only tests "$@" ;;
  speed) $PY benchmarks/speed.py --out "$LOGS/speed" "$@" 2>&1 | tee "$LOGS/speed.log" ;;
  table) $PY -m papermill nbs/20_reproduce.ipynb "$LOGS/20_${1:-main_T4}.ipynb" -k python3 \
           -p table "${1:-main_T4}" -p scale paper -p device cuda -y '{train_args: {speed: fast}}' ;;
  *) echo "usage: bash benchmarks/run_on_gpu.sh check|test|speed|table [...]" >&2; exit 2 ;;
esac
