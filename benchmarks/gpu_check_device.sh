#!/usr/bin/env bash
# benchmarks/gpu_check.py on a lent GPU machine (the `device` tool of this workplace), in one call.
#
# That machine has Python 3.12 with JAX (CUDA) and PyTorch (CUDA), numpy, scipy, matplotlib,
# pandas and scikit-learn, but no Keras, no KerasTuner and no network: they travel as wheels in
# the call's `carry` (.whl/, ignored by git through .git/info/exclude). Here, once:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl \
#       keras==3.15.1 namex==0.1.0 optree==0.20.0 keras-tuner==1.4.8 kt-legacy==1.0.5
#
# (the versions of .ci/constraints.txt; keras-tuner's other needs, requests, grpcio and protobuf,
# are on the machine). Then one call, with carry [".whl"] and timeout_s 540:
#
#   bash benchmarks/gpu_check_device.sh                                      # from the first section
#   bash benchmarks/gpu_check_device.sh --resume docs/results/gpu_check.jsonl   # from the first missing
#
# It writes $OUT/gpu_check.jsonl and $OUT/gpu.md (the examples' own outputs go to /tmp, since only
# 8 files come back); commit them here with
#   python benchmarks/gpu_check.py --report FILES_AT/gpu_check.jsonl --out docs/results
#   cp FILES_AT/gpu_check.jsonl docs/results/
# The time guard (460 s) leaves a 540 s call room to install, start and hand the files back.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_check_device.sh: the carried wheels (.whl/) did not install" >&2; exit 2; }
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 benchmarks/gpu_check.py --out "${OUT:?set by the device tool}" --runs /tmp/gpu_check_runs \
    --backends jax torch --time-limit 460 "$@"
