#!/usr/bin/env bash
# Every benchmark, one after the other, output collected in benchmarks/RESULTS.md.
# Needs MNIST ($SCRATCHNET_DATA or ../shared/data/mnist); PyTorch optional (compare_torch.py).
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
run /usr/bin/time -f "wall %e s, peak RSS %M KB" python train.py --seed 0
run python benchmarks/bench_kernels.py
run python benchmarks/bench_train.py
run python benchmarks/compare_torch.py
run python benchmarks/compare_torch.py --epochs 10 --accuracy
run python benchmarks/bench_predict.py
run python benchmarks/compare_architectures.py --out docs
run python benchmarks/load_test.py
