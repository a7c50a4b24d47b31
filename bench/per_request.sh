#!/usr/bin/env bash
# Cost of one proxied HTTP request, measured two ways that survive this VM's noise better than request rates:
#   cpu           CPU time (user and system, from /proc) of each proxy, of the backend and of the client over a
#                 wrk run, divided by its requests; the proxies take turns with a direct run (no proxy), round
#                 after round, and the medians are printed. On this 2-core machine all three share the cores,
#                 so the request rate follows the sum, not the proxy's part alone.
#   instructions  user-space instructions per request of one poolgate binary under callgrind (deterministic:
#                 counters zeroed after a warm-up, dumped after the measured run).
# Each proxy has one worker thread in front of the same nginx serving 64 bytes; haproxy runs `mode http` with
# `http-reuse always` (MODE=tcp: mode tcp) as the yardstick.
#
#   bench/per_request.sh cpu build/poolgate [other/poolgate ...]
#   bench/per_request.sh instructions build/poolgate
#   env: MODE=http|tcp (default http), CLOSE=1 (clients send Connection: close), ROUNDS (default 5),
#        POOL (poolgate's --pool-max-per-endpoint, default 32; 0 turns the pool off),
#        CONNECTIONS (wrk's -c in cpu mode, default 32), POOLGATE_ARGS (more poolgate flags, e.g.
#        "--http-coalesce-wait 0")
set -euo pipefail

what=${1:?usage: per_request.sh cpu|instructions BINARY...}
shift
[[ $# -ge 1 ]] || { echo "per_request.sh: name at least one poolgate binary" >&2; exit 2; }
mode=${MODE:-http}
rounds=${ROUNDS:-5}
pool=${POOL:-32}
connections=${CONNECTIONS:-32}
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
    --pool-max-per-endpoint "$pool" --mode "$mode" --admin-listen '' --log-level warn ${POOLGATE_ARGS:-} \
    >"$work/poolgate-$port.log" 2>&1 &
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
    # wrk straight at the backend: what the client and the backend cost without a proxy.
    names+=(direct)
    ports+=("$backend_port")
    proxy_pids+=("")
    backend_pid=${pids[0]}
    ticks() { [[ -n $1 ]] && awk '{print $14, $15}' "/proc/$1/stat" || echo 0 0; }
    hz=$(getconf CLK_TCK)
    TIMEFORMAT='%3U %3S'
    for round in $(seq "$rounds"); do
      for i in "${!names[@]}"; do
        read -r user_before system_before < <(ticks "${proxy_pids[$i]}")
        read -r backend_user backend_system < <(ticks "$backend_pid")
        backend_before=$((backend_user + backend_system))
        { time wrk -t1 -c"$connections" -d3s "${headers[@]}" "http://127.0.0.1:${ports[$i]}/index.html" >"$work/wrk.out"; } 2>"$work/wrk.time"
        read -r user_after system_after < <(ticks "${proxy_pids[$i]}")
        read -r backend_user backend_system < <(ticks "$backend_pid")
        requests=$(requests_of <"$work/wrk.out")
        # One line per run: which, requests, proxy user and system ticks, backend ticks, client milliseconds.
        echo "$i $requests $((user_after - user_before)) $((system_after - system_before))" \
          "$((backend_user + backend_system - backend_before))" \
          "$(awk '{printf "%d", ($1 + $2) * 1000}' "$work/wrk.time")"
      done
    done >"$work/samples"
    printf '%-28s %9s %11s %11s %11s %11s %11s\n' "per request, medians of $rounds" "req/s" "proxy user" \
      "proxy sys" "backend" "client" "all three"
    for i in "${!names[@]}"; do
      awk -v i="$i" -v hz="$hz" -v name="${names[$i]}" '
        function median(values, n,   sorted, j, k, v) {
          for (k = 1; k <= n; k++) {
            v = values[k]
            for (j = k - 1; j >= 1 && sorted[j] > v; j--) sorted[j + 1] = sorted[j]
            sorted[j + 1] = v
          }
          return sorted[int((n + 1) / 2)]
        }
        $1 == i {
          n++
          tick_ns = 1e9 / hz
          rate[n] = $2 / 3
          user[n] = $3 * tick_ns / $2; sys[n] = $4 * tick_ns / $2
          backend[n] = $5 * tick_ns / $2; client[n] = $6 * 1e6 / $2
          all[n] = user[n] + sys[n] + backend[n] + client[n]
        }
        END {
          printf "%-28s %9d %8.1f us %8.1f us %8.1f us %8.1f us %8.1f us\n", name, median(rate, n),
            median(user, n) / 1000, median(sys, n) / 1000, median(backend, n) / 1000, median(client, n) / 1000,
            median(all, n) / 1000
        }' "$work/samples"
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
