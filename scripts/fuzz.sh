#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR (listed in BUILD_DIR/targets.txt) for SECONDS each, one after
# the other, starting from the checked-in seeds in fuzz/corpus/<target>/ plus what earlier runs found
# (BUILD_DIR/corpus-work/<target>/). Prints one summary line per target and fails if any target crashed, leaked,
# timed out or ran out of memory; the input that did it is in BUILD_DIR/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: fuzz.sh BUILD_DIR SECONDS}

# UBSan and ASan findings stop the run (the targets are built with -fno-sanitize-recover), with a stack trace.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

summary=()
failed=0
while read -r target; do
  [[ -z "$target" ]] && continue
  work="$build_dir/corpus-work/$target"
  artifacts="$build_dir/artifacts/$target"
  log="$build_dir/logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f "fuzz/$target.dict" ]] && args+=(-dict="fuzz/$target.dict")
  echo "fuzz: running $target for ${seconds}s"
  status=0
  "$build_dir/fuzz_$target" "${args[@]}" "$work" "fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [[ $status -eq 0 ]]; then
    result="ok"
  else
    result="FAILED (status $status; log $log; reproducer in $artifacts/)"
    failed=1
    tail -n 60 "$log"
  fi
  summary+=("$(printf '%-18s %5ss %12s execs  %s' "$target" "$seconds" "${execs:-?}" "$result")")
done <"$build_dir/targets.txt"

echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
exit $failed
