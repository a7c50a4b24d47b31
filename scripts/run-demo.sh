#!/usr/bin/env bash
# `make run`: poolgate on 127.0.0.1:PORT in front of two demo backends, with a live endpoints file in a temp
# directory. Ctrl-C stops all three.
set -euo pipefail
build_dir=${1:-build}
port=${2:-6443}
demo_dir=$(mktemp -d /tmp/poolgate-demo.XXXXXX)
backend_ports=(17001 17002)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$demo_dir"
}
trap cleanup EXIT INT TERM

names=(alpha beta)
for i in "${!backend_ports[@]}"; do
  "$build_dir/poolgate-demo-backend" "${backend_ports[$i]}" "${names[$i]}" &
  pids+=($!)
done
printf '{"endpoints": ["127.0.0.1:%s", "127.0.0.1:%s"]}\n' "${backend_ports[@]}" > "$demo_dir/endpoints.json"

cat <<EOT
poolgate demo: 127.0.0.1:$port -> demo backends alpha (127.0.0.1:${backend_ports[0]}) and beta (127.0.0.1:${backend_ports[1]})
Try it from another terminal:
  curl http://127.0.0.1:$port/          # answered by alpha, then beta (round robin)
  echo hello | nc -q1 127.0.0.1 $port  # echoed back through the relay
  ss -tn state established '( dport = :${backend_ports[0]} or dport = :${backend_ports[1]} )'   # the warm pool
Edit $demo_dir/endpoints.json and poolgate follows within a second. Ctrl-C stops everything.

EOT
"$build_dir/poolgate" --listen "127.0.0.1:$port" --endpoints "$demo_dir/endpoints.json" \
  --kubeconfig /nonexistent --log-level info &
pids+=($!)
wait "${pids[-1]}"
