#!/usr/bin/env python3
"""HTTP mode side by side: poolgate --mode http, haproxy mode http (http-reuse always) and nginx proxy_pass with
an upstream keepalive block, one worker thread each, in front of the same nginx backend serving a 64-byte file.

Driven by wrk with keep-alive clients (32 connections) and with clients that close after each request (32 and 1
connections), in interleaved rounds: every proxy stays up for the whole run, and each workload is measured on
every proxy in turn (the order rotating per round), so the samples compared are seconds apart, not a proxy's
whole round apart. Prints medians, ratios against haproxy (of the medians, and the median of the per-round
ratios), and every error; writes JSON and a PNG chart. Reuses compare.py's process, port and client machinery
(bench/README.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as tcp  # noqa: E402  (the TCP comparison: processes, ports, wrk, machine facts)

PROXIES = ("direct", "haproxy-http", "nginx-http", "poolgate-http")
PEERS = ("haproxy-http", "nginx-http")
BACKEND_KEEPALIVE = 32   # idle backend connections each proxy may keep (nginx keepalive, poolgate pool max)
WORKLOADS = (           # key, wrk connections, Connection: close
    ("keepalive", 32, False),
    ("close32", 32, True),
    ("close1", 1, True),
)
TITLES = {"keepalive": "keep-alive x32", "close32": "close x32", "close1": "close x1"}


def start_haproxy_http(ctx: tcp.Context, name: str, listen: int, backend: int) -> list:
    conf = ctx.work / f"{name}.cfg"
    conf.write_text(f"""global
  nbthread 1
  maxconn {tcp.PERF_MAXCONN}
defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout http-keep-alive 1h
  http-reuse always
listen web
  bind 127.0.0.1:{listen}
  server s1 127.0.0.1:{backend}
""")
    return [ctx.children.start(name, ["haproxy", "-db", "-f", str(conf)], nofile=ctx.nofile)]


def start_nginx_http(ctx: tcp.Context, name: str, listen: int, backend: int) -> list:
    conf = ctx.work / f"{name}.conf"
    w = ctx.work
    conf.write_text(f"""daemon off; worker_processes 1; pid {w}/{name}.pid; error_log {w}/{name}-error.log;
events {{ worker_connections {2 * tcp.PERF_MAXCONN + 64}; }}
http {{
  access_log off; keepalive_requests 1000000;
  client_body_temp_path {w}; proxy_temp_path {w}; fastcgi_temp_path {w}; uwsgi_temp_path {w}; scgi_temp_path {w};
  upstream backend {{ server 127.0.0.1:{backend}; keepalive {BACKEND_KEEPALIVE}; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{listen} backlog=4096;
    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
    argv = ["nginx", "-e", f"{w}/{name}-error.log", "-p", str(w), "-c", str(conf)]
    return [ctx.children.start(name, argv, nofile=ctx.nofile)]


def start_poolgate_http(ctx: tcp.Context, name: str, listen: int, backend: int) -> list:
    argv = [str(ctx.poolgate), "--mode", "http", "--listen", f"127.0.0.1:{listen}",
            "--endpoint", f"127.0.0.1:{backend}", "--threads", "1", "--kubeconfig", "/nonexistent",
            "--refresh-interval", "0", "--pool-max-per-endpoint", str(BACKEND_KEEPALIVE),
            "--admin-listen", f"127.0.0.1:{ctx.ports.take()}"]
    return [ctx.children.start(name, argv, nofile=ctx.nofile)]


STARTERS = {"haproxy-http": start_haproxy_http, "nginx-http": start_nginx_http, "poolgate-http": start_poolgate_http}


def start_all(ctx: tcp.Context) -> dict[str, tuple[int, list]]:
    """Every proxy of PROXIES, started once: its listening port and processes ("direct" is the backend itself)."""
    backend = ctx.backends.http
    started = {}
    for name in PROXIES:
        if name == "direct":
            started[name] = (backend, [])
            continue
        listen = ctx.ports.take()
        procs = STARTERS[name](ctx, name, listen, backend)
        tcp.wait_listening([listen], procs, name)
        started[name] = (listen, procs)
    return started


def measure_round(ctx: tcp.Context, started: dict, round_no: int, duration: int) -> dict[str, dict[str, tcp.Sample]]:
    """One round: each workload on every proxy in turn, the order rotated by the round number."""
    result = {name: {} for name in PROXIES}
    for key, connections, close in WORKLOADS:
        for name in tcp.rotated(list(PROXIES), round_no - 1):
            listen, procs = started[name]
            raw = ctx.work / "clients" / f"http-r{round_no}-{name}-{key}.txt"
            sample = tcp.wrk_sample(ctx, raw, listen, duration, connections, close)
            if any(p.poll() is not None for p in procs):
                sample = tcp.Sample(None, 1, {"failure": f"{name} exited during {key}"})
            result[name][key] = sample
    return result


def round_ratios(rounds: list[dict]) -> dict[str, float | None]:
    """poolgate-http / haproxy-http per workload: the median over rounds of each round's ratio."""
    medians = {}
    for key, _, _ in WORKLOADS:
        per_round = [tcp.ratio(r["poolgate-http"][key].value, r["haproxy-http"][key].value) for r in rounds]
        known = [x for x in per_round if x is not None]
        medians[key] = tcp.statistics.median(known) if known else None
    return medians


def summarize(rounds: list[dict], names: list[str]) -> tuple[dict, dict]:
    medians, errors = {}, {}
    for name in names:
        medians[name] = {k: tcp.median_of([r[name][k] for r in rounds]) for k, _, _ in WORKLOADS}
        errors[name] = {k: sum(r[name][k].errors for r in rounds) for k, _, _ in WORKLOADS}
    return medians, errors


def print_table(names: list[str], medians: dict, errors: dict, per_round: dict) -> None:
    print("\nHTTP mode, req/s (median), errors in brackets; ratio = poolgate-http / haproxy-http")
    print(f"{'proxy':<16}" + "".join(f"{TITLES[k]:>22}" for k, _, _ in WORKLOADS))
    for name in names:
        cells = []
        for key, _, _ in WORKLOADS:
            value = medians[name][key]
            cells.append(f"{'-' if value is None else f'{value:,.0f}'} [{errors[name][key]}]")
        print(f"{name:<16}" + "".join(f"{c:>22}" for c in cells))
    if "poolgate-http" in medians and "haproxy-http" in medians:
        ratios = [tcp.ratio(medians["poolgate-http"][k], medians["haproxy-http"][k]) for k, _, _ in WORKLOADS]
        print(f"{'ratio':<16}" + "".join(f"{'-' if r is None else f'{r:.2f}x':>22}" for r in ratios))
        print(f"{'round ratios':<16}" + "".join(
            f"{'-' if per_round[k] is None else f'{per_round[k]:.2f}x':>22}" for k, _, _ in WORKLOADS))
        print("(round ratios: the median over rounds of each round's poolgate-http / haproxy-http)")


def render_png(path: Path, names: list[str], medians: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(WORKLOADS), figsize=(4 * len(WORKLOADS), 3.6))
    for ax, (key, _, _) in zip(axes, WORKLOADS):
        values = [medians[n][key] or 0 for n in names]
        colors = ["#d62728" if n == "poolgate-http" else "#7f7f7f" if n == "direct" else "#4c72b0" for n in names]
        ax.bar(range(len(names)), values, color=colors)
        ax.set_xticks(range(len(names)), [n.replace("-http", "") for n in names], rotation=20)
        ax.set_title(f"HTTP {TITLES[key]} (req/s)", fontsize=10)
        for i, v in enumerate(values):
            ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per client run (default 5)")
    ap.add_argument("--json", type=Path, default=tcp.REPO / "build/compare/http-results.json")
    ap.add_argument("--png", type=Path, default=tcp.REPO / "build/compare/compare-http.png")
    ap.add_argument("--poolgate", type=Path, default=tcp.REPO / "build/poolgate")
    args = ap.parse_args()
    if args.rounds < 1 or args.duration < 1:
        ap.error("--rounds and --duration must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    tcp.check_tools()
    tcp.install_signal_handlers()
    work = args.json.resolve().parent / "work-http"
    tcp.shutil.rmtree(work, ignore_errors=True)
    (work / "clients").mkdir(parents=True)
    children = tcp.Children(work)
    nofile = tcp.raise_nofile_limit(16384)
    rounds = []
    try:
        poolgate, info = tcp.snapshot_poolgate(args.poolgate, work)
        ports = tcp.Ports()
        backends = tcp.start_backends(children, ports, work, 1024)
        ctx = tcp.Context(children, ports, backends, work, poolgate, True, nofile)
        busy_before = tcp.machine_busy_pct()
        started = start_all(ctx)
        for i in range(args.rounds):
            print(f"Round {i + 1}/{args.rounds}")
            result = measure_round(ctx, started, i + 1, args.duration)
            for name in PROXIES:
                print(f"  {name:<14} " + " ".join(f"{k}={result[name][k].value or 0:,.0f}" for k, _, _ in WORKLOADS))
            rounds.append(result)
    except tcp.StartError as e:
        print(f"compare_http.py: {e}; logs in {work}", file=sys.stderr)
        return 1
    finally:
        children.stop_all()
    medians, errors = summarize(rounds, list(PROXIES))
    per_round = round_ratios(rounds)
    print_table(list(PROXIES), medians, errors, per_round)
    report = {"machine": tcp.machine_info(), "commit": tcp.git_commit()[0], "poolgate": info,
              "settings": {"rounds": args.rounds, "duration_s": args.duration, "backend_keepalive": BACKEND_KEEPALIVE,
                           "busy_before_start_pct": busy_before},
              "medians": medians, "errors": errors, "round_ratio_medians": per_round,
              "rounds": [{n: {k: vars(s) for k, s in per.items()} for n, per in r.items()} for r in rounds]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nJSON: {args.json}")
    try:
        render_png(args.png, list(PROXIES), medians)
        print(f"PNG:  {args.png}")
    except ImportError:
        print("no matplotlib: no PNG (bash scripts/deps.sh --bench installs it)", file=sys.stderr)
    # The goal is a rate with zero errors: any error of poolgate's fails the run.
    return 1 if any(errors["poolgate-http"].values()) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ncompare_http.py: interrupted; every process it started is stopped", file=sys.stderr)
        sys.exit(130)
