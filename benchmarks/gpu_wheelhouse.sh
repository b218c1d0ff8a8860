#!/usr/bin/env bash
# Build wh312/ (gitignored): the pure-Python and cp312 wheels the GPU machine lacks (it has Python 3.12, torch,
# torchvision, numpy and matplotlib, and no package index): papermill and its kernel, nbdev (nbdev_test also imports
# astunparse), pytest, timm, ... Run here, then carry wh312/ to the GPU machine (under 64 MiB: scikit-learn/scipy,
# needed only for the t-SNE of Fig. 4, stay out). Rebuild it (or rewrite wh312/COMMIT) right before a GPU run.
set -eu
cd "$(dirname "$0")/.."
rm -rf wh312 && mkdir wh312
pip download -q -d wh312 --python-version 3.12 --only-binary=:all: --no-deps \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any \
  tqdm fastcore==1.14.5 execnb==0.1.18 nbdev==2.4.14 ghapi==2.0.3 fastgit fastspec papermill==2.7.0 ipykernel==7.4.0 \
  ipython ipython-pygments-lexers jupyter-client jupyter-core nbformat nbclient fastjsonschema jsonschema \
  jsonschema-specifications referencing rpds-py attrs traitlets pyzmq tornado comm debugpy psutil nest-asyncio \
  matplotlib-inline decorator jedi parso pexpect ptyprocess prompt-toolkit wcwidth pygments stack-data executing \
  asttokens pure-eval entrypoints click pyyaml tenacity ansicolors requests urllib3 idna certifi charset-normalizer \
  platformdirs packaging python-dateutil six submitit cloudpickle typing-extensions pytest pluggy iniconfig astunparse \
  timm==1.0.31
# wh312/COMMIT: the commit the tree travels with (the GPU machine gets it without .git; the check records this one)
if sha=$(git rev-parse HEAD 2>/dev/null); then
  git diff --quiet HEAD 2>/dev/null || sha=$sha-dirty
  echo "$sha" > wh312/COMMIT
fi
echo "wh312/: $(ls wh312/*.whl | wc -l) wheels, $(du -sh wh312 | cut -f1), commit $(cat wh312/COMMIT 2>/dev/null)"
