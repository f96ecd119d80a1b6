#!/usr/bin/env bash
# Every benchmark, one after the other, output collected in benchmarks/RESULTS.md.
# Needs MNIST ($SCRATCHNET_DATA or ../shared/data/mnist); optional: PyTorch (compare_torch.py, bench_fast.py),
# scikit-learn (bench_augment.py's UCI digits), Debian's dataset-fashion-mnist and fonts (bench_openset.py),
# Chromium and ChromeDriver (bench_web.py).
# The first command trains models/mnist_cnn.npz, which the prediction benchmarks use.
# About an hour on 2 cores, most of it bench_augment.py's 3 seeds of both recipes and its ablation.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SCRATCHNET_DATA:-}" ] && [ -d ../shared/data/mnist ]; then
    export SCRATCHNET_DATA="$(cd ../shared/data/mnist && pwd)"
fi
out=benchmarks/RESULTS.md
run() {
    echo "## \`$*\`" >> "$out"
    echo '```' >> "$out"
    "$@" 2>&1 | grep -v "^\s*$" | tee -a "$out"
    echo '```' >> "$out"
    echo >> "$out"
}
echo "# Benchmark results (raw output of benchmarks/run_all.sh)" > "$out"
echo >> "$out"
echo "Machine: $(python -c 'import sys; sys.path.insert(0, "."); from scratchnet.sysinfo import describe_machine; print(describe_machine())'); started $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)." >> "$out"
echo >> "$out"
NUMBA_CACHE_DIR="$(mktemp -d)" run /usr/bin/time -f "wall %e s, peak RSS %M KB" python train.py --seed 0
run python benchmarks/report_epochs.py
run python -m scratchnet.gradcheck
run python benchmarks/bench_kernels.py
run python benchmarks/bench_train.py
run python benchmarks/compare_torch.py --epochs 3
run python benchmarks/compare_torch.py --epochs 10 --accuracy
run python benchmarks/bench_fast.py
run python benchmarks/bench_predict.py
run python benchmarks/bench_openset.py
run python benchmarks/bench_web.py
run python benchmarks/bench_learning.py
run python benchmarks/load_test.py
run python benchmarks/compare_architectures.py --out docs
run python benchmarks/bench_augment.py --answer
