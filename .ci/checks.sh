#!/usr/bin/env bash
# The test suite (`make test` runs it inside .venv): notebook hygiene, export sync, README and docs up to quarto,
# plain `nbdev_test` (as users type it), every notebook once more (in two processes, each running its share in order)
# checking that none leaks global state (one line per notebook), pytest. The last line is `N passed, N failed`; exit
# code 0 only if nothing failed.
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d); pass=0; fail=0
step() { local name=$1; shift
  if "$@" > "$logs/$name.log" 2>&1; then echo "PASS $name"; pass=$((pass+1))
  else echo "FAIL $name"; tail -40 "$logs/$name.log" | sed 's/^/    /'; fail=$((fail+1)); fi; }
add_counts() {  # add the "N passed ... N failed/errors" of a summary line to the totals
  local p f; p=$(echo "$1" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END{print s+0}')
  f=$(echo "$1" | grep -Eo '[0-9]+ (failed|errors?)' | awk '{s+=$1} END{print s+0}')
  pass=$((pass+p)); fail=$((fail+f)); [ "$2" -ne 0 ] && [ "$f" -eq 0 ] && fail=$((fail+1)); return 0; }

step strip_outputs python .ci/strip_outputs.py --check
step nbdev_clean   bash -c 'nbdev_clean && git diff --exit-code --stat -- nbs'
step export_sync   bash -c 'nbdev_export && s=$(git status --porcelain -- zscore_kd) && [ -z "$s" ] || { echo "$s"; git diff -- zscore_kd | head -60; exit 1; }'
step params_tags   python .ci/check_params.py
step readme        python .ci/readme.py --check
step docs          bash -c 'python .ci/docs.py && git diff --exit-code -- nbs/_quarto.yml nbs/nbdev.yml'
# plain nbdev_test: nbdev's pool runs one notebook per core, so each gets one OpenMP thread (else 2x2 threads spin on 2 cores)
step nbdev_test    env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout 1500 nbdev_test

out=$(timeout 1500 python .ci/nbstate.py --workers 2 2> "$logs/nbstate.err"); rc=$?
echo "$out" | sed '$d'; [ $rc -ne 0 ] && tail -80 "$logs/nbstate.err" | sed 's/^/    /'
add_counts "$(echo "$out" | tail -1)" $rc

# pytest in two workers (pytest-xdist), a test file each so module fixtures run once, one OpenMP thread per worker
env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout 1500 python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests \
  > "$logs/pytest.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -E '^(FAILED|ERROR)|Error' "$logs/pytest.log" | head -40 | sed 's/^/    /'
summary=$(tail -1 "$logs/pytest.log"); echo "pytest: $summary"
[ $rc -eq 5 ] && rc=0
add_counts "$summary" $rc

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
