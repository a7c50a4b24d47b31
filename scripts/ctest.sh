#!/usr/bin/env bash
# Runs ctest in the build directory $1 with the remaining arguments. When tests fail, each failed test's
# assertion messages are printed once more at the very end: a long run prints a failing test's output when it
# finishes, hundreds of lines before the verdict, and a log cut to its tail would lose the reason.
set -uo pipefail
build_dir=$1
shift
cd "$build_dir" || exit 2
ctest "$@"
status=$?
failed_list=Testing/Temporary/LastTestsFailed.log
if [ "$status" -ne 0 ] && [ -s "$failed_list" ]; then
  echo "===== why each test failed (the assertions again; the full output is above) ====="
  cut -d: -f2- "$failed_list" | while IFS= read -r name; do
    echo "--- $name"
    # The test's block in LastTest.log runs from its "N/M Testing: name" line to its verdict. Its gtest
    # failures with the lines that explain them; a test with none (a timeout, a crash) shows its last lines.
    awk -v name="$name" '
      index($0, " Testing: " name) && substr($0, length($0) - length(name) + 1) == name { inside = 1; next }
      !inside { next }
      /^Output:$/ { getline; output = 1; next }
      !output { next }
      /^<end of output>$/ { inside = output = 0; if (!failures) for (i = (n > 12 ? n - 12 : 0); i < n; i++) print kept[i]; next }
      { kept[n++] = $0 }
      /: Failure$/ { failures = 1; follow = 6 }
      follow > 0 { print; follow-- }
    ' Testing/Temporary/LastTest.log | head -n 40
  done
fi
exit "$status"
