#!/usr/bin/env bash
# `make gpu-rehearsal`: the GPU slot rehearsed on this CPU machine, so that the check never breaks for a reason a CPU
# could have shown. It builds the wheelhouse (wh312/, needs a package index), makes the GPU machine's Python once
# (3.12 with only torch 2.11, torchvision 0.26, numpy and matplotlib: CPU wheels where an index offers them, else the
# CUDA ones, which run on a CPU), copies the tree as it travels (no .git; wh312/ carried), and runs
# `bash benchmarks/run_on_gpu.sh check --smoke` there with no package index and, where this machine allows, no network:
#   1. killed (SIGKILL, every process of it) once half the parts are done: check.json/md/log must keep them;
#   2. again, start to end, within the slot's 10 minutes: every part must pass.
# Wheels and environment are kept in $REHEARSAL_DIR (default ~/.cache/zscore_kd/gpu-rehearsal), never in the repo.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
DIR=${REHEARSAL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zscore_kd/gpu-rehearsal}
is312() { [ -n "$1" ] && "$1" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; }
for PY312 in "${PYTHON312:-}" "$(ls -d "$HOME"/.pyenv/versions/3.12*/bin/python 2>/dev/null | tail -1)" python3.12 ""; do
  is312 "$PY312" && break; done
TORCH=${TORCH_VERSION:-2.11.0} VISION=${TORCHVISION_VERSION:-0.26.0} LIMIT=${REHEARSAL_LIMIT:-600}
WHEELS=$DIR/torch-cp312-$TORCH VENV=$DIR/venv-$TORCH TREE=$DIR/tree
fail() { echo "rehearsal FAILED: $*" >&2; exit 1; }
[ -n "$PY312" ] || fail "no Python 3.12 found (set PYTHON312=/path/to/python3.12)"
mkdir -p "$DIR"

echo "== 1. the wheelhouse"
bash benchmarks/gpu_wheelhouse.sh 2>&1 | grep -v 'is ignored: it is neither' || fail "building wh312/"

echo "== 2. torch $TORCH + torchvision $VISION for Python 3.12 (downloaded once into $WHEELS)"
if [ ! -f "$WHEELS/.complete" ]; then
  get() { "$PY312" -m pip download -q --only-binary=:all: -d "$WHEELS" "$@" torch==$TORCH torchvision==$VISION; }
  if get --index-url https://download.pytorch.org/whl/cpu --timeout 20 --retries 0; then build=cpu
  else echo "   no CPU build reachable: the CUDA build from the package index (it runs on a CPU)"; build=cuda
    get || fail "downloading torch $TORCH"; fi
  "$PY312" -m pip download -q --only-binary=:all: -d "$WHEELS" numpy matplotlib || fail "downloading numpy/matplotlib"
  echo "$build" > "$WHEELS/.complete"
fi
echo "   $(ls "$WHEELS"/*.whl | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1), $(cat "$WHEELS/.complete") build"

echo "== 3. the GPU machine's Python: a 3.12 venv with torch, torchvision, numpy, matplotlib only (no index)"
offline() { env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 "$@"; }
if [ ! -f "$VENV/.pristine" ] || ! diff -q <("$VENV/bin/python" -m pip freeze) "$VENV/.pristine" >/dev/null; then
  rm -rf "$VENV" && "$PY312" -m venv "$VENV" || fail "creating $VENV"
  offline "$VENV/bin/python" -m pip install -q --find-links "$WHEELS" torch==$TORCH torchvision==$VISION numpy \
    matplotlib || fail "installing torch from $WHEELS"
  "$VENV/bin/python" -m pip freeze > "$VENV/.pristine"
fi
"$VENV/bin/python" -c 'import sys, torch, torchvision; print("  ", sys.version.split()[0], "torch", torch.__version__,
                       "torchvision", torchvision.__version__, "CUDA available:", torch.cuda.is_available())'

echo "== 4. the tree as it travels: tracked and untracked files that git does not ignore, and wh312/; no .git"
rm -rf "$TREE" && mkdir -p "$TREE"
{ git ls-files -z -co --exclude-standard; printf 'wh312\0'; } | tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
  | tar -xf - -C "$TREE" || fail "copying the tree"
echo "   $(du -sh "$TREE" | cut -f1) (the limit: 64 MiB); commit file: $(cat "$TREE/wh312/COMMIT")"

# a bare machine: only the venv's python3 on PATH, a fresh HOME (~/site), no index, no network where unshare works
NS=(); unshare -n -p -f --kill-child true 2>/dev/null && NS=(unshare -n -p -f --kill-child)
slot() {  # slot <out folder>: the command the GPU machine runs, as it runs it there
  rm -rf "$DIR/$1" "$DIR/home-$1"; mkdir -p "$DIR/home-$1"
  cd "$TREE" && exec env -i HOME="$DIR/home-$1" PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    OUT="$DIR/$1" PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null "${NS[@]}" \
    bash -c 'ip link set lo up 2>/dev/null; exec bash benchmarks/run_on_gpu.sh check --smoke'
}  # run in a subshell: it becomes that command, so killing its pid ends the whole slot
parts_done() {  # how many parts check.json in $1 reports as finished
  python3 -c 'import json, sys
try: ps = json.load(open(sys.argv[1]))["parts"].values()
except (OSError, ValueError, KeyError): ps = []
print(sum(p["status"] != "running" for p in ps))' "$DIR/$1/check.json"
}

echo "== 5. the check, killed half-way (${NS[*]:-no namespaces: network and processes as they are})"
t0=$(date +%s); slot killed > "$DIR/killed.out" 2>&1 & pid=$!
until [ "$(parts_done killed)" -ge 4 ] || ! kill -0 $pid 2>/dev/null || [ $(($(date +%s) - t0)) -gt "$LIMIT" ]; do
  sleep 1; done
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
echo "   killed after $(($(date +%s) - t0)) s"
python3 - "$DIR/killed" <<'EOF' || fail "the killed run did not keep its results"
import json, sys
from pathlib import Path
out = Path(sys.argv[1]); rep = json.loads((out / 'check.json').read_text())
done = {k: p['status'] for k, p in rep['parts'].items() if p['status'] != 'running'}
running = [k for k, p in rep['parts'].items() if p['status'] == 'running']
ok = lambda s: s == 'PASS' or s.startswith('MISSED')  # a CPU misses the speed goals, as it should
assert len(done) >= 4 and not rep['finished'] and all(map(ok, done.values())), rep['parts']
md, log = (out / 'check.md').read_text(), (out / 'check.log').read_text()
assert '**in progress**' in md and all(f'| {s} |' in md for s in done.values()) and '=== 0 environment' in log
print(f"   kept after the kill: {', '.join(f'{k} {s}' for k, s in done.items())}; running: {', '.join(running)}; "
      f"files: {', '.join(sorted(p.name for p in out.iterdir()))}")
EOF

echo "== 6. the check, start to end (limit $LIMIT s)"
t0=$(date +%s); timeout -s KILL "$LIMIT" bash -c "$(declare -f slot); $(declare -p DIR TREE VENV NS); slot full" \
  > "$DIR/full.out" 2>&1; rc=$?; wall=$(($(date +%s) - t0))
python3 - "$DIR/full" $rc $wall "$LIMIT" <<'EOF' || fail "the full run (see $DIR/full.out)"
import json, sys
from pathlib import Path
out, rc, wall, limit = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rep = json.loads((out / 'check.json').read_text())
lines = (out / 'check.md').read_text().split('\n\n')
print('\n'.join(lines[:4]))
print(f'   exit status {rc}, wall {wall} s of {limit}; torch {rep["parts"]["env"].get("torch")}, '
      f'Python {rep["python"]}, commit {rep["commit"]} (from {rep["commit_from"]})')
assert rc == 0 and rep['finished'] and wall < limit, (rc, wall)
assert all(p['status'] == 'PASS' or p['status'].startswith('MISSED') for p in rep['parts'].values())
EOF
echo "rehearsal passed: killed half-way with its results kept, then start to end in $wall s (limit $LIMIT s)"
