#!/usr/bin/env bash
# Installs the Debian packages poolgate builds, tests and benchmarks with. Idempotent: it asks apt only
# for what dpkg does not already report as installed, so a second run costs a second or two.
set -euo pipefail

build_packages=(
  cmake ninja-build ccache g++ make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Tools the integration tests drive as real peers (openssl for the TLS test, curl/nc for `make run`'s hints,
# prometheus for promtool and a real Prometheus server scraping the admin endpoint, nginx as the real HTTP/1.1
# backend of the HTTP-mode tests).
test_packages=(openssl curl netcat-openbsd python3 procps iproute2 prometheus nginx-light)
# The peers and clients `make compare` (bench/compare.py) measures with, and matplotlib for its chart.
# python3-munkres is there only to satisfy python3-fonttools' "python3-scipy | python3-munkres": without it apt
# picks scipy, whose pythran dependency pulls libboost1.74-dev, which conflicts with the libboost1.81-dev we build with.
bench_packages=(wrk sockperf iperf3 haproxy nginx-light libnginx-mod-stream python3-munkres python3-matplotlib)
# `make fuzz`: clang with libFuzzer and the sanitizer runtimes (libclang-rt), llvm for llvm-symbolizer's stack traces.
fuzz_packages=(clang libclang-rt-14-dev llvm)

wanted=("${build_packages[@]}" "${test_packages[@]}")
for option in "$@"; do
  case "$option" in
    --bench) wanted+=("${bench_packages[@]}") ;;
    --fuzz) wanted+=("${fuzz_packages[@]}") ;;
    *) echo "deps.sh: unknown option $option (--bench, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps.sh: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
