#!/usr/bin/env bash
# Cost of one proxied HTTP request, measured two ways that survive this VM's noise better than request rates:
#   cpu           CPU time (utime+stime from /proc) of each proxy over a wrk run, divided by its requests;
#                 the proxies take turns, round after round, and the medians are printed.
#   instructions  user-space instructions per request of one poolgate binary under callgrind (deterministic:
#                 counters zeroed after a warm-up, dumped after the measured run).
# Each proxy has one worker thread in front of the same nginx serving 64 bytes; haproxy runs `mode http` with
# `http-reuse always` (MODE=tcp: mode tcp) as the yardstick.
#
#   bench/per_request.sh cpu build/poolgate [other/poolgate ...]
#   bench/per_request.sh instructions build/poolgate
#   env: MODE=http|tcp (default http), CLOSE=1 (clients send Connection: close), ROUNDS (default 5)
set -euo pipefail

what=${1:?usage: per_request.sh cpu|instructions BINARY...}
shift
[[ $# -ge 1 ]] || { echo "per_request.sh: name at least one poolgate binary" >&2; exit 2; }
mode=${MODE:-http}
rounds=${ROUNDS:-5}
headers=()
[[ -n "${CLOSE:-}" ]] && headers=(-H "Connection: close")

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

backend_port=$(free_port)
mkdir -p "$work/www"
head -c 64 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
cat >"$work/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $work/nginx.pid; error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$backend_port backlog=4096; root $work/www; }
}
EOF
nginx -e "$work/nginx-error.log" -p "$work" -c "$work/nginx.conf" &
pids+=($!)

# Waits until something answers HTTP on `port`.
await_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/index.html" && return 0
    sleep 0.1
  done
  echo "per_request.sh: nothing answered on port $1" >&2
  return 1
}
await_http "$backend_port"

start_poolgate() {  # binary port [wrapper...]
  local binary=$1 port=$2
  shift 2
  "$@" "$binary" --listen "127.0.0.1:$port" --endpoint "127.0.0.1:$backend_port" --threads 1 \
    --pool-max-per-endpoint 32 --mode "$mode" --admin-listen '' --log-level warn >"$work/poolgate-$port.log" 2>&1 &
  pids+=($!)
}

requests_of() { awk '/requests in/ {print $1}'; }

case "$what" in
  cpu)
    names=(haproxy)
    ports=($(free_port))
    haproxy_mode=$mode
    {
      printf 'global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode %s\n  timeout connect 5s\n' "$haproxy_mode"
      printf '  timeout client 1h\n  timeout server 1h\n'
      [[ $mode == http ]] && printf '  timeout http-keep-alive 1h\n  http-reuse always\n'
      printf 'listen proxy\n  bind 127.0.0.1:%s\n  server s1 127.0.0.1:%s\n' "${ports[0]}" "$backend_port"
    } >"$work/haproxy.cfg"
    haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
    pids+=($!)
    proxy_pids=($!)
    for binary in "$@"; do
      port=$(free_port)
      start_poolgate "$binary" "$port"
      names+=("$binary")
      ports+=("$port")
      proxy_pids+=("${pids[-1]}")
    done
    for port in "${ports[@]}"; do await_http "$port"; done
    ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
    hz=$(getconf CLK_TCK)
    for round in $(seq "$rounds"); do
      for i in "${!names[@]}"; do
        before=$(ticks "${proxy_pids[$i]}")
        requests=$(wrk -t1 -c32 -d3s "${headers[@]}" "http://127.0.0.1:${ports[$i]}/index.html" | requests_of)
        after=$(ticks "${proxy_pids[$i]}")
        echo "$i $(( (after - before) * 1000000000 / hz / requests ))"
      done
    done >"$work/samples"
    for i in "${!names[@]}"; do
      median=$(awk -v i="$i" '$1 == i {print $2}' "$work/samples" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      printf '%-40s %8d ns CPU per request (median of %d rounds)\n' "${names[$i]}" "$median" "$rounds"
    done
    ;;
  instructions)
    port=$(free_port)
    start_poolgate "$1" "$port" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out.%p"
    await_http "$port"
    wrk -t1 -c8 -d2s "${headers[@]}" "http://127.0.0.1:$port/index.html" >/dev/null
    callgrind_control -z "${pids[-1]}" >/dev/null 2>&1
    requests=$(wrk -t1 -c8 -d5s "${headers[@]}" "http://127.0.0.1:$port/index.html" | requests_of)
    callgrind_control -d "${pids[-1]}" >/dev/null 2>&1
    sleep 0.5
    dump=$(ls -t "$work"/callgrind.out.*.* | head -1)
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    echo "$1: $requests requests, $(( total / requests )) user-space instructions per request"
    ;;
  *)
    echo "per_request.sh: unknown measure '$what' (cpu or instructions)" >&2
    exit 2
    ;;
esac
