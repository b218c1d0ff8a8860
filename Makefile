# Two commands on a fresh machine (see README.md):
#   make run    set up .venv, then one distillation on the embedded synthetic data (nbs/10_train.ipynb via papermill)
#   make test   set up .venv (and Chromium for the browser test), then the whole suite; last line `N passed, N failed`
# After editing notebooks: make export (modules, committed notebook form, README.md); make docs; make hooks once.
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: setup browser run reproduce test export readme docs hooks

$(STAMP): setup.py settings.ini constraints.txt
	@echo '== set-up: a virtual environment in $(VENV) with the pinned packages (a few minutes the first time)'
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar off --disable-pip-version-check -c constraints.txt -e '.[dev]' 2>&1 \
		| { grep -Ev 'is ignored: it is neither|^Requirement already satisfied' || true; }
	# JupyterLab's defaults for this .venv (a user's own settings still win): save widget state with the notebook
	# (30_explore's last values); no "Jupyter news" pop-up (fetchNews "false" = never ask), it covers the plots
	mkdir -p $(VENV)/share/jupyter/lab/settings
	$(BIN)/python -c "import json, pathlib; p = pathlib.Path('$(VENV)/share/jupyter/lab/settings/overrides.json'); s = json.loads(p.read_text()) if p.exists() else {}; s.setdefault('@jupyter-widgets/jupyterlab-manager:plugin', {})['saveState'] = True; s.setdefault('@jupyterlab/apputils-extension:notification', {})['fetchNews'] = 'false'; p.write_text(json.dumps(s, indent=2))"
	touch $(STAMP)

setup: $(STAMP)

browser:  # Debian's Chromium for the JupyterLab test (Playwright drives it; nothing is downloaded by Playwright)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: setup  # the cells' output (epoch lines, the resolved run, the result) streams to the terminal
	mkdir -p runs
	$(BIN)/papermill nbs/10_train.ipynb runs/10_train.ipynb -k python3 --log-output $(ARGS)
	@echo '== the executed notebook: runs/10_train.ipynb (the run folder is named in its last table above)'

reproduce: setup  # one table and every figure: make reproduce ARGS='-p table main_T4 -p scale paper'; everything: ARGS='-p table all'
	mkdir -p runs
	$(BIN)/papermill nbs/20_reproduce.ipynb runs/20_reproduce.ipynb -k python3 $(ARGS)
	case "$(ARGS)" in *"table all"*) ;; *) $(BIN)/papermill nbs/21_figures.ipynb runs/21_figures.ipynb -k python3 $(ARGS) ;; esac

NBLOG := $(abspath $(VENV))/nbdev_test.jsonl
test: setup browser  # nbdev_test (its hook in .ci/leaks also fails a notebook that leaks process state), then pytest
	@echo '== nbdev_test: every notebook, as a user runs it'
	@rm -f $(NBLOG); env PATH=$(abspath $(BIN)):$$PATH PYTHONPATH=$(abspath .ci/leaks) ZSCORE_KD_NBTEST_LOG=$(NBLOG) \
		OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout 1500 nbdev_test || true
	@echo '== pytest: the tests notebooks cannot hold, and one result per notebook of the run above'
	env PATH=$(abspath $(BIN)):$$PATH ZSCORE_KD_NBTEST_LOG=$(NBLOG) ZSCORE_KD_REQUIRE_BROWSER=1 OMP_NUM_THREADS=1 \
		MKL_NUM_THREADS=1 timeout 1500 $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile tests

export: setup  # after editing or running nbs/: zscore_kd/, 10_train's parameters cell, committed form, README.md
	PATH=$(abspath $(BIN)):$$PATH sh -c 'nbdev_export && python -c "import zscore_kd.cli as c; c.write_parameters_cell()" \
		&& python .ci/strip_outputs.py && nbdev_clean && python .ci/readme.py'

readme: setup  # README.md from nbs/index.ipynb (nbdev's doc processing + nbconvert; .ci/readme.py says why not quarto)
	$(BIN)/python .ci/readme.py

docs: setup  # _docs/index.html: nbdev_docs where quarto exists, else one static HTML page per notebook (not run)
	PATH=$(abspath $(BIN)):$$PATH python .ci/docs.py

hooks: setup  # nbdev's hooks: clean notebooks when Lab saves them (jupyter_hooks), merge notebooks with nbdev_merge
	PATH=$(abspath $(BIN)):$$PATH nbdev_install_hooks

.PHONY: gpu-rehearsal
gpu-rehearsal:  # the GPU check's slot rehearsed on this CPU: Python 3.12 + torch 2.11 from wheels, no index (benchmarks/README.md)
	bash benchmarks/gpu_rehearsal.sh
