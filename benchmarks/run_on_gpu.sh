#!/usr/bin/env bash
# On a GPU machine, from the repository root:
#   bash benchmarks/run_on_gpu.sh check [--budget SECONDS]   # the GPU check, <= 8 min in all -> check.{md,json,log}
#   bash benchmarks/run_on_gpu.sh test                       # only its part 1a: the `#| gpu` cells and the gpu tests
#   bash benchmarks/run_on_gpu.sh speed                      # every method's speed (benchmarks/speed.py)
#   bash benchmarks/run_on_gpu.sh table main_T4              # a real-scale table on synthetic data (hours; README.md)
# A machine set up with `make setup` needs nothing more. A machine without a package index (Python 3.12 with torch and
# torchvision) gets what it lacks (nbdev, pytest, timm, papermill, ...) from wh312/, built beforehand by
# gpu_wheelhouse.sh and carried with the tree (it is gitignored), installed into ~/site beside the machine's own torch.
# Results go under $OUT when it is set (else benchmarks/results/<gpu>/ for the check, runs/gpu/ for the rest); the
# setup's own output goes to setup.log there. A side step that fails (an install, nvidia-smi) is reported, never fatal.
set -u
export CHECK_STARTED=${CHECK_STARTED:-$(date +%s)}  # the check's time budget counts from the command's start
cd "$(dirname "$0")/.." || exit 2
LOGS=${OUT:-runs/gpu}; mkdir -p "$LOGS"
exec 3>&1 4>&2 > >(tee -a "$LOGS/setup.log") 2>&1  # the setup's output, also into setup.log
PY=python3; [ -x .venv/bin/python ] && PY=.venv/bin/python  # the environment `make setup` made, if any
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [ -d wh312 ]; then
  $PY -m pip install -q --upgrade --no-index --no-deps --no-compile --target "$HOME/site" wh312/*.whl \
    || echo "WARNING: installing wh312/ into ~/site failed (above); the parts that need its packages will say so"
  export PYTHONPATH="$PYTHONPATH:$HOME/site" PATH="$HOME/site/bin:$PATH"
  [ -f wh312/COMMIT ] && echo "wheelhouse: $(ls wh312/*.whl | wc -l) wheels, built at commit $(cat wh312/COMMIT)"
elif ! $PY -c 'import nbdev, pytest, timm, yaml, fastcore' 2>/dev/null; then
  echo "NOTE: no wh312/ here, and this Python lacks nbdev, pytest, timm, pyyaml or fastcore: the parts that need them"
  echo "      will fail. Build the wheelhouse where a package index is reachable (bash benchmarks/gpu_wheelhouse.sh)"
  echo "      and carry the gitignored folder wh312/ with the working tree."
fi
{ command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader; } || echo "nvidia-smi: not available"
$PY -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.is_available())' \
  || echo "WARNING: torch does not import with $PY"
exec 1>&3 2>&4 3>&- 4>&-
mode=${1:-check}; shift || true
case "$mode" in
  check) CHECK_COMMAND="bash benchmarks/run_on_gpu.sh check $*" exec $PY benchmarks/check.py "$@" ;;
  test)  CHECK_COMMAND="bash benchmarks/run_on_gpu.sh test $*" exec $PY benchmarks/check.py --only env,tests "$@" ;;
  speed) set -o pipefail; $PY benchmarks/speed.py --out "$LOGS/speed" "$@" 2>&1 | tee "$LOGS/speed.log" ;;
  table) $PY -m ipykernel install --user --name python3 >/dev/null || echo "WARNING: no python3 kernel for papermill"
         $PY -m papermill nbs/20_reproduce.ipynb "$LOGS/20_${1:-main_T4}.ipynb" -k python3 \
           -p table "${1:-main_T4}" -p scale paper -p device cuda -y '{train_args: {speed: fast}}' ;;
  *) echo "usage: bash benchmarks/run_on_gpu.sh check|test|speed|table [...]" >&2; exit 2 ;;
esac
