#!/bin/sh
# poolgate never starts another program (no shell-outs): the binary imports none of libc's ways to do so.
# Checking the linked binary also covers code that headers (Boost, spdlog, CLI11) inline into it.
set -eu
binary=${1:?usage: no_process_spawning.sh POOLGATE_BINARY}
found=$(nm -D --undefined-only "$binary" |
  grep -E ' (system|popen|exec[lv]p?e?|execvpe|fexecve|posix_spawnp?|fork|vfork|clone3?|dlopen)(@|$)' || true)
if [ -n "$found" ]; then
  echo "poolgate imports functions that start programs:"
  echo "$found"
  exit 1
fi
echo "no process-spawning imports in $binary"
