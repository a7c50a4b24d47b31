#!/usr/bin/env bash
# Runs ctest in the build directory $1 with the remaining arguments. When tests fail, each failed test's
# assertion messages are printed once more at the very end: a long run prints a failing test's output when it
# finishes, hundreds of lines before the verdict, and a log cut to its tail would lose the reason.
set -uo pipefail
build_dir=$1
shift
cd "$build_dir" || exit 2
failed_list=Testing/Temporary/LastTestsFailed.log
# ctest leaves the list of an earlier run in place when all tests pass: it must not speak for this run.
rm -f "$failed_list"
ctest "$@"
status=$?
if [ "$status" -ne 0 ] && [ -s "$failed_list" ]; then
  echo "===== why each test failed (the assertions again; the full output is above) ====="
  cut -d: -f2- "$failed_list" | while IFS= read -r name; do
    echo "--- $name"
    # A test's block in LastTest.log runs from its "N/M Testing: name" line to its verdict; with --repeat a test
    # has one block per run, and the last one is the failure. Shown: its gtest failures with the lines that
    # explain them, or, with none (a timeout, a crash), its last lines.
    awk -v name="$name" '
      function last_lines(   i, text) {
        for (i = (n > 12 ? n - 12 : 0); i < n; i++) text = text kept[i] "\n"
        return text
      }
      index($0, " Testing: " name) && substr($0, length($0) - length(name) + 1) == name {
        inside = 1; output = 0; n = 0; failures = ""; follow = 0; next
      }
      !inside { next }
      /^Output:$/ { getline; output = 1; next }
      !output { next }
      /^<end of output>$/ { inside = 0; report = failures != "" ? failures : last_lines(); next }
      { kept[n++] = $0 }
      /: Failure$/ { follow = 6 }
      follow > 0 { failures = failures $0 "\n"; follow-- }
      END { printf "%s", report }
    ' Testing/Temporary/LastTest.log | head -n 40
  done
fi
exit "$status"
