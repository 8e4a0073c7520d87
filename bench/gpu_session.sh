#!/usr/bin/env bash
# One call on a lent GPU machine (device tool): build dlcore with dlcore._cuda,
# run the CUDA tests (and the whole suite: that machine's CPU may have
# AVX-512), then the GPU report. Logs land in $OUT; the last lines printed are
# the summary. Usage: bench/gpu_session.sh [build|test|suite|bench|conv ...]
# (default: build test bench). DLCORE_GPU_ARCHS overrides the targets (the
# wheel's default builds sm_80 + sm_90 + PTX; one target builds faster).
set -u
OUT=${OUT:-/tmp/dlcore_gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
ARCHS=${DLCORE_GPU_ARCHS:-90-real}
steps=${*:-build test bench}
ROOT=$(pwd)

for step in $steps; do
  case $step in
    build)
      { nvidia-smi; nvcc --version | tail -2; lscpu | grep -E 'Model name|Flags' | cut -c1-400; } > "$OUT/machine.txt" 2>&1
      t0=$(date +%s)
      $PY -m pip install --no-build-isolation --no-deps -v \
        -C cmake.define.DLCORE_CUDA=ON -C cmake.define.DLCORE_CUDA_ARCHITECTURES="$ARCHS" \
        -C build-dir=/tmp/dlcore_build . > "$OUT/build.log" 2>&1 \
        || { tail -60 "$OUT/build.log"; echo "BUILD FAILED"; exit 1; }
      echo "build: $(( $(date +%s) - t0 )) s"; grep -iE "spill|warning" "$OUT/build.log" | sort | uniq -c | head -20
      ;;
    debug)  # a backtrace of a C++ exception raised through the binding
      so=$(cd /tmp && $PY -c "import dlcore._C as m; print(m.__file__)")
      ldd "$so" > "$OUT/debug.txt" 2>&1
      (cd /tmp && cuda-gdb -q -batch -ex run -ex bt --args $PY -c "import dlcore; dlcore.set_num_threads(0)") >> "$OUT/debug.txt" 2>&1
      grep -vE "^\[|New Thread|Thread debugging" "$OUT/debug.txt" | tail -40
      ;;
    test)
      # xdist: a crashing test takes its worker down, not the run
      (cd /tmp && $PY -m pytest -q -p no:cacheprovider -n 8 "$ROOT/tests/test_cuda.py" "$ROOT/tests/test_cuda_build.py" \
         "$ROOT/tests/test_cuda_python.py" "$ROOT/tests/test_device.py" \
         > "$OUT/test_cuda.log" 2>&1); echo "cuda tests rc=$?"; tail -25 "$OUT/test_cuda.log"
      ;;
    suite)
      (cd /tmp && OMP_NUM_THREADS=2 timeout 400 $PY -m pytest -q -p no:cacheprovider -n 8 --ignore="$ROOT/tests/test_cuda.py" "$ROOT/tests" \
         > "$OUT/suite.log" 2>&1); echo "suite rc=$?"; tail -15 "$OUT/suite.log"
      ;;
    bench)
      (cd /tmp && $PY -m dlcore.bench gpu --repeats 10 > "$OUT/bench_gpu.log" 2>&1); echo "bench rc=$?"; cat "$OUT/bench_gpu.log" | tail -60
      ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
done
