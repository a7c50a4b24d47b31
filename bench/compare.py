#!/usr/bin/env python3
"""`make compare`: poolgate side by side with haproxy and nginx on loopback, driven by third-party clients.

What this script owns, for one run (nothing outlives it):
  * backends on fresh random 127.0.0.1 ports: nginx-light (a 64-byte file over keep-alive HTTP, plus a server
    that holds idle connections for the memory step), `sockperf server --tcp` (ping-pong), `iperf3 -s` (bulk);
  * the proxies in front of them, each with ONE worker thread: haproxy (mode tcp), haproxy with
    `option splice-auto`, nginx `stream`, poolgate, poolgate with its pool off, and "direct" (no proxy);
  * the clients: wrk keep-alive (32 connections), wrk with "Connection: close" (32 connections and 1),
    `sockperf ping-pong --tcp -m 64`, `iperf3 -c`, run in interleaved rounds (every proxy through every
    workload per round) so slow drift of the machine hits every proxy alike; medians are reported;
  * the memory step: N idle proxied connections through each proxy, its RSS read from /proc/PID/status;
  * the outputs: a table with poolgate's goals on stdout, JSON (--json) and a PNG chart (--png);
  * a work directory next to the JSON (configs, process logs, raw client output), emptied at the start of a run.
Every process it starts runs in its own session (process group) and is killed on exit, on error, on Ctrl-C and
on SIGTERM/SIGHUP. See bench/README.md for how to read the results.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------------------------
# What is measured and what poolgate is expected to achieve.

@dataclass(frozen=True)
class Workload:
    key: str
    short: str                       # table column header
    title: str
    unit: str
    higher_is_better: bool
    peer_goal: float                 # poolgate / best peer must reach this (or stay under it when lower is better)
    nopool_goal: float | None = None  # poolgate / poolgate-nopool, when the workload has such a goal


WORKLOADS = (
    Workload("keepalive", "keep-alive x32", "HTTP keep-alive, 32 conns", "req/s", True, 1.15),
    Workload("close32", "close x32", "Connection: close, 32 conns", "req/s", True, 1.15),
    Workload("close1", "close x1", "Connection: close, 1 conn", "req/s", True, 1.30, 1.20),
    Workload("pingpong", "ping-pong RTT", "TCP ping-pong RTT, 64 B", "µs", False, 1.00),
    Workload("bulk", "bulk", "Bulk TCP (iperf3)", "Gbit/s", True, 1.20),
)

ALL_PROXIES = ("direct", "haproxy", "haproxy-splice", "nginx", "poolgate", "poolgate-nopool")
PEERS = ("haproxy", "haproxy-splice", "nginx")   # "best peer" is the best of these
SERVICES = ("http", "pingpong", "bulk")           # backends the workloads go through
WRK_CONNECTIONS = 32
PERF_MAXCONN = 4096                               # proxies' connection cap outside the memory step
START_DEADLINE_S = 10.0
OTHER_CPU_WARN_PCT = 10                           # flag runs during which other processes used this much CPU
MEMORY_STEPS = 10                                 # RSS readings on the way to the memory step's target


# ----------------------------------------------------------------------------------------------------------------
# Processes: every child in its own session, so one killpg stops a proxy together with its workers.

class Children:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, argv: list[str], capture: bool = False, nofile: int | None = None) -> subprocess.Popen:
        """Starts argv with output to log_dir/name.log (or a pipe when capture), in a new session."""
        log_path = None if capture else self.log_dir / f"{name}.log"
        out = subprocess.PIPE if capture else open(log_path, "w")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True,
                                    preexec_fn=(lambda: raise_nofile_limit(nofile)) if nofile else None)
        except OSError as e:
            raise StartError(f"{name}: cannot start {argv[0]}: {e}") from e
        finally:
            if not capture:
                out.close()  # the child holds its own copy
        proc.log_path = log_path   # for error messages that point at the right log
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace_s: float = 5.0) -> None:
        """SIGTERM to the whole group, SIGKILL if it has not exited after grace_s."""
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        self.forget(proc)

    def forget(self, proc: subprocess.Popen) -> None:
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc, grace_s=2.0)


def raise_nofile_limit(wanted: int | None = None) -> int:
    """Raises RLIMIT_NOFILE towards wanted (default: the hard limit); returns the soft limit reached.
    Without CAP_SYS_RESOURCE the hard limit cannot grow, so the hard limit is the fallback."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = wanted or hard
    for limit in ((wanted, max(wanted, hard)), (min(wanted, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return limit[0]
        except (ValueError, OSError):
            continue
    return soft


def run_client(children: Children, argv: list[str], timeout_s: float, raw_path: Path) -> tuple[int | None, str]:
    """Runs a client to completion (tracked, so Ctrl-C kills it too); keeps its output in raw_path.
    Returns (exit status or None on timeout, output)."""
    proc = children.start(raw_path.stem, argv, capture=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        children.stop(proc, grace_s=1.0)
        out, status = (proc.stdout.read() if proc.stdout else ""), None
    children.forget(proc)
    raw_path.write_text(" ".join(argv) + "\n\n" + (out or ""))
    return status, out or ""


class StartError(RuntimeError):
    pass


# ----------------------------------------------------------------------------------------------------------------
# Ports and sockets, read from /proc so that waiting for readiness never opens a connection through a proxy
# (a probe connection would reach iperf3, which takes any connection for a test's control channel).

TCP_LISTEN, TCP_ESTABLISHED = "0A", "01"


def tcp_sockets(state: str) -> list[int]:
    """Local ports of every IPv4/IPv6 TCP socket in the given state, one entry per socket."""
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == state:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def established_on(port: int) -> int:
    return tcp_sockets(TCP_ESTABLISHED).count(port)


def wait_listening(ports: list[int], procs: list[subprocess.Popen], what: str) -> None:
    """Polls until every port listens; fails early when one of procs exits, or at the deadline."""
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        missing = set(ports) - set(tcp_sockets(TCP_LISTEN))
        if not missing:
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise StartError(f"{what}: exited with status {dead[0].returncode}: {log_tail(dead[0])}")
        if time.monotonic() > deadline:
            raise StartError(f"{what}: ports {sorted(missing)} not listening after {START_DEADLINE_S:.0f} s")
        time.sleep(0.02)


def log_tail(proc: subprocess.Popen) -> str:
    """The last line of a process's log, named, so a failure says why without opening the file."""
    path = getattr(proc, "log_path", None)
    try:
        lines = path.read_text(errors="replace").strip().splitlines() if path else []
    except OSError:
        lines = []
    return f"{path.name}: {lines[-1] if lines else '(empty)'}" if path else "(no log)"


class Ports:
    """Fresh random ports each run, below the ephemeral range so no client socket of this run can hold one."""

    def __init__(self):
        low, _ = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        self.range = (10000, low - 1) if low > 12000 else (low - 9000, low - 1)
        self.taken: set[int] = set()

    def take(self) -> int:
        for _ in range(1000):
            port = random.randint(*self.range)
            if port not in self.taken and self._bindable(port):
                self.taken.add(port)
                return port
        raise StartError("no free port found")

    @staticmethod
    def _bindable(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False


# ----------------------------------------------------------------------------------------------------------------
# Backends.

@dataclass
class Backends:
    http: int
    pingpong: int
    bulk: int
    idle: int   # holds connections without answering, for the memory step

    def port(self, service: str) -> int:
        return getattr(self, service)


def start_backends(children: Children, ports: Ports, work: Path, idle_capacity: int) -> Backends:
    backends = Backends(ports.take(), ports.take(), ports.take(), ports.take())
    www = work / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text("x" * 63 + "\n")   # the 64-byte body every wrk request fetches
    conf = work / "backend-nginx.conf"
    conf.write_text(f"""daemon off; master_process off; worker_processes 1;
pid {work}/backend-nginx.pid; error_log {work}/backend-nginx-error.log;
events {{ worker_connections {idle_capacity + 4096}; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  server {{ listen 127.0.0.1:{backends.http} backlog=4096; root {www}; }}
  # The memory step's connections send nothing; a long header timeout keeps them open while RSS is read.
  server {{ listen 127.0.0.1:{backends.idle} backlog=4096; client_header_timeout 1h; return 204; }}
}}
""")
    procs = [
        children.start("backend-nginx", ["nginx", "-e", f"{work}/backend-nginx-error.log", "-p", str(work),
                                         "-c", str(conf)]),
        children.start("backend-sockperf", ["sockperf", "server", "--tcp", "-i", "127.0.0.1",
                                            "-p", str(backends.pingpong)]),
        children.start("backend-iperf3", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(backends.bulk)]),
    ]
    wait_listening([backends.http, backends.idle, backends.pingpong, backends.bulk], procs, "backends")
    return backends


# ----------------------------------------------------------------------------------------------------------------
# Proxies. Each start function gets routes (listen port -> backend port) and returns the processes it started.

@dataclass
class Route:
    service: str
    listen: int
    backend: int


@dataclass
class Context:
    children: Children
    ports: Ports
    backends: Backends
    work: Path
    poolgate: Path
    poolgate_has_admin: bool   # builds with an admin HTTP listener (--admin-listen, default 127.0.0.1:9778)
    nofile: int


def start_haproxy(ctx: Context, name: str, routes: list[Route], maxconn: int, splice: bool) -> list:
    conf = ctx.work / f"{name}.cfg"
    # haproxy refuses to start when maxconn's descriptors (two per connection, plus two per splice pipe, default
    # maxconn/4 pipes) exceed RLIMIT_NOFILE. Idle connections never take a pipe, so when the limit is tight (the
    # memory step) fewer pipes are reserved rather than fewer connections.
    maxpipes = max(0, min(maxconn // 4, (ctx.nofile - 2 * maxconn - 64) // 2))
    listens = "".join(f"listen {r.service}\n  bind 127.0.0.1:{r.listen}\n  server s1 127.0.0.1:{r.backend}\n"
                      for r in routes)
    conf.write_text(f"""global
  nbthread 1
  maxconn {maxconn}
{f"  maxpipes {maxpipes}" if splice else ""}
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
{"  option splice-auto" if splice else ""}
{listens}""")
    return [ctx.children.start(name, ["haproxy", "-db", "-f", str(conf)], nofile=ctx.nofile)]


def start_nginx_stream(ctx: Context, name: str, routes: list[Route], maxconn: int) -> list:
    conf = ctx.work / f"{name}.conf"
    servers = "".join(f"  server {{ listen 127.0.0.1:{r.listen} backlog=4096; proxy_pass 127.0.0.1:{r.backend}; }}\n"
                      for r in routes)
    # worker_connections counts both sides of a proxied connection.
    conf.write_text(f"""load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off; worker_processes 1; pid {ctx.work}/{name}.pid; error_log {ctx.work}/{name}-error.log;
events {{ worker_connections {2 * maxconn + 64}; }}
stream {{
{servers}}}
""")
    argv = ["nginx", "-e", f"{ctx.work}/{name}-error.log", "-p", str(ctx.work), "-c", str(conf)]
    return [ctx.children.start(name, argv, nofile=ctx.nofile)]


def start_poolgate(ctx: Context, name: str, routes: list[Route], pool: bool) -> list:
    """One poolgate per route: it takes one --listen, and one process per backend keeps pools apart."""
    procs = []
    for r in routes:
        argv = [str(ctx.poolgate), "--listen", f"127.0.0.1:{r.listen}", "--endpoint", f"127.0.0.1:{r.backend}",
                "--threads", "1", "--kubeconfig", "/nonexistent", "--refresh-interval", "0"]
        if not pool:
            argv += ["--pool-max-per-endpoint", "0"]
        if ctx.poolgate_has_admin:
            # Kept on, as shipped, but on a fresh port: the fixed default would clash between our three
            # processes and with any poolgate someone else runs on this machine.
            argv += ["--admin-listen", f"127.0.0.1:{ctx.ports.take()}"]
        procs.append(ctx.children.start(f"{name}-{r.service}", argv, nofile=ctx.nofile))
    return procs


def start_proxy(ctx: Context, name: str, routes: list[Route], maxconn: int) -> list:
    if name == "direct":
        return []
    if name in ("haproxy", "haproxy-splice"):
        return start_haproxy(ctx, name, routes, maxconn, splice=name == "haproxy-splice")
    if name == "nginx":
        return start_nginx_stream(ctx, name, routes, maxconn)
    return start_poolgate(ctx, name, routes, pool=name == "poolgate")


def make_routes(ctx: Context, name: str, services: tuple[str, ...]) -> list[Route]:
    """Fresh listen ports per start; "direct" listens on the backends themselves."""
    return [Route(s, ctx.backends.port(s) if name == "direct" else ctx.ports.take(), ctx.backends.port(s))
            for s in services]


class RunningProxy:
    """A proxy started for one round or one memory step; stops its processes on exit, whatever happened."""

    def __init__(self, ctx: Context, name: str, services: tuple[str, ...], maxconn: int):
        self.ctx, self.name = ctx, name
        self.routes = {r.service: r for r in make_routes(ctx, name, services)}
        self.procs: list[subprocess.Popen] = []
        self.maxconn = maxconn

    def __enter__(self) -> "RunningProxy":
        try:
            self.procs = start_proxy(self.ctx, self.name, list(self.routes.values()), self.maxconn)
            wait_listening([r.listen for r in self.routes.values()], self.procs, self.name)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        for proc in self.procs:
            self.ctx.children.stop(proc)

    def port(self, service: str) -> int:
        return self.routes[service].listen

    def exit_status(self) -> int | None:
        """The status of a process of this proxy that has exited (crashed) since the start, else None."""
        return next((p.returncode for p in self.procs if p.poll() is not None), None)


# ----------------------------------------------------------------------------------------------------------------
# Clients. Each returns a Sample: the headline value (None when the run failed), an error count, details.

@dataclass
class Sample:
    value: float | None
    errors: int = 0
    detail: dict = field(default_factory=dict)


def wrk_sample(ctx: Context, raw: Path, port: int, duration: int, connections: int, close: bool) -> Sample:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if close:
        argv += ["-H", "Connection: close"]
    status, out = run_client(ctx.children, argv + [f"http://127.0.0.1:{port}/"], duration + 30, raw)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()))) if sock else {}
    detail = {"requests": int(requests.group(1)) if requests else None,
              "p99_us": float(p99.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p99.group(2)] if p99 else None,
              "socket_errors": socket_errors, "non2xx": int(non2xx.group(1)) if non2xx else 0}
    if status != 0 or not rps:
        detail["failure"] = f"wrk exit status {status}: {out.strip()[-200:]}"
        return Sample(None, 1, detail)
    return Sample(float(rps.group(1)), sum(socket_errors.values()) + detail["non2xx"], detail)


def sockperf_sample(ctx: Context, raw: Path, port: int, duration: int) -> Sample:
    argv = ["sockperf", "ping-pong", "--tcp", "-i", "127.0.0.1", "-p", str(port), "-m", "64", "-t", str(duration)]
    status, out = run_client(ctx.children, argv, duration + 30, raw)
    # sockperf reports one-way latency, i.e. half the round trip; the table shows the round trip.
    avg = re.search(r"avg-latency=([\d.]+)", out)
    p99 = re.search(r"percentile 99\.000 =\s+([\d.]+)", out)
    dropped = re.search(r"# dropped messages = (\d+)", out)
    detail = {"rtt_p99_us": 2 * float(p99.group(1)) if p99 else None}
    if status != 0 or not avg:
        detail["failure"] = f"sockperf exit status {status}: {out.strip()[-200:]}"
        return Sample(None, 1, detail)
    return Sample(2 * float(avg.group(1)), int(dropped.group(1)) if dropped else 0, detail)


def iperf_sample(ctx: Context, raw: Path, port: int, duration: int) -> Sample:
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(duration), "-J"]
    status, out = run_client(ctx.children, argv, duration + 30, raw)
    try:
        report = json.loads(out[out.index("{"):])
        if "error" in report:
            raise ValueError(report["error"])
        gbit = report["end"]["sum_received"]["bits_per_second"] / 1e9
        retransmits = report["end"]["sum_sent"].get("retransmits", 0)
    except (ValueError, KeyError) as e:
        return Sample(None, 1, {"failure": f"iperf3 exit status {status}: {e}"})
    return Sample(gbit, 0, {"retransmits": retransmits})


def measure_workload(ctx: Context, proxy: RunningProxy, w: Workload, duration: int, raw: Path) -> Sample:
    if w.key == "keepalive":
        return wrk_sample(ctx, raw, proxy.port("http"), duration, WRK_CONNECTIONS, close=False)
    if w.key == "close32":
        return wrk_sample(ctx, raw, proxy.port("http"), duration, WRK_CONNECTIONS, close=True)
    if w.key == "close1":
        return wrk_sample(ctx, raw, proxy.port("http"), duration, 1, close=True)
    if w.key == "pingpong":
        return sockperf_sample(ctx, raw, proxy.port("pingpong"), duration)
    return iperf_sample(ctx, raw, proxy.port("bulk"), duration)


# ----------------------------------------------------------------------------------------------------------------
# Rounds.

def measure_checked(ctx: Context, proxy: RunningProxy, w: Workload, duration: int, raw: Path) -> Sample:
    """measure_workload, with a proxy that died during the run counted as an error, never hidden, and the CPU
    that processes outside this run used meanwhile, to tell a disturbed run from a slow proxy afterwards."""
    before, started = cpu_seconds(ctx.children), time.monotonic()
    sample = measure_workload(ctx, proxy, w, duration, raw)
    after, wall = cpu_seconds(ctx.children), time.monotonic() - started
    sample.detail["other_cpu_pct"] = round(max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / wall * 100)
    status = proxy.exit_status()
    if status is not None:
        sample.errors += 1
        sample.detail["failure"] = f"{proxy.name} exited with status {status} during or before this run"
    return sample


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(children: Children) -> tuple[float, float]:
    """(CPU seconds the whole machine has used, CPU seconds this run has used: itself, its reaped clients and the
    live processes of its children's sessions). Interrupt time is left out of both: /proc/stat keeps it apart."""
    user, nice, system = (int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4])
    machine = (user + nice + system) / CLOCK_TICKS
    own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    sessions = {p.pid for p in children.procs}
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            fields = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sessions:
            own += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return machine, own


def run_round(ctx: Context, round_no: int, order: list[str], duration: int) -> dict[str, dict[str, Sample]]:
    results = {}
    raw_dir = ctx.work / "clients"
    for name in order:
        print(f"  round {round_no}: {name:<16}", end="", flush=True)
        try:
            with RunningProxy(ctx, name, SERVICES, PERF_MAXCONN) as proxy:
                results[name] = {w.key: measure_checked(ctx, proxy, w, duration,
                                                        raw_dir / f"r{round_no}-{name}-{w.key}.txt")
                                 for w in WORKLOADS}
        except StartError as e:
            results[name] = {w.key: Sample(None, 1, {"failure": str(e)}) for w in WORKLOADS}
        other = max(s.detail.get("other_cpu_pct", 0) for s in results[name].values())
        print(" ".join(f"{w.key}={format_value(w, results[name][w.key].value)}" for w in WORKLOADS)
              + (f"  (other processes used up to {other}% CPU)" if other >= OTHER_CPU_WARN_PCT else ""))
    return results


def rotated(names: list[str], by: int) -> list[str]:
    """Each round starts with a different proxy, so no proxy always runs first (on a cold machine) or last."""
    by %= len(names)
    return names[by:] + names[:by]


# ----------------------------------------------------------------------------------------------------------------
# Memory: many idle proxied connections, then the proxy's RSS.

def process_group_rss_kb(leaders: list[subprocess.Popen]) -> tuple[int, int]:
    """Sum of VmRSS (kB) and of open fds over every process in the leaders' sessions (nginx: master + worker)."""
    sessions = {p.pid for p in leaders}
    rss = fds = 0
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            stat = (pid_dir / "stat").read_text()
            session = int(stat.rsplit(")", 1)[1].split()[3])
            if session not in sessions:
                continue
            status = (pid_dir / "status").read_text()
            rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            fds += len(os.listdir(pid_dir / "fd"))
        except (OSError, AttributeError, IndexError, ValueError):
            continue   # exited meanwhile, or a kernel thread without VmRSS
    return rss, fds


def open_idle_connections(port: int, count: int, deadline: float) -> tuple[list[socket.socket], str | None]:
    """Opens up to count connections; stops at the first failure (fd limit, full backlog) and says why."""
    socks: list[socket.socket] = []
    while len(socks) < count:
        if time.monotonic() > deadline:
            return socks, "ran out of time"
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=3))
        except OSError as e:
            return socks, f"connect failed: {e}"
    return socks, None


def wait_backend_count(port: int, baseline: int, wanted: int, deadline_s: float = 30.0) -> int:
    """Waits until the backend holds `wanted` more connections than at baseline, or the count stops rising."""
    deadline = time.monotonic() + deadline_s
    last, last_change = -1, time.monotonic()
    while True:
        reached = established_on(port) - baseline
        now = time.monotonic()
        if reached != last:
            last, last_change = reached, now
        if reached >= wanted or now > deadline or now - last_change > 2.0:
            return max(reached, 0)
        time.sleep(0.1)


def memory_steps(target: int) -> list[int]:
    """Connection counts at which RSS is read. Steps, not one reading at the end: a proxy that gives out early
    still has readings at counts every proxy reached, which compare like with like."""
    return sorted({max(1, target * i // MEMORY_STEPS) for i in range(1, MEMORY_STEPS + 1)})


def hold_connections(ctx: Context, proxy: RunningProxy, target: int, held: list[socket.socket]) -> tuple[list, str]:
    """Adds connections step by step (into held, which the caller closes); returns the readings and why it
    stopped. A step whose connections did not all reach the backend ends the climb."""
    baseline = established_on(ctx.backends.idle)   # includes poolgate's warm sockets at this point
    deadline = time.monotonic() + 180
    curve = []
    for step in memory_steps(target):
        more, failure = open_idle_connections(proxy.port("idle"), step - len(held), deadline)
        held += more
        # min(): warm sockets poolgate opens meanwhile also count at the backend
        proxied = min(wait_backend_count(ctx.backends.idle, baseline, len(held)), len(held))
        rss, fds = process_group_rss_kb(proxy.procs)
        curve.append({"step": step, "proxied": proxied, "rss_kb": rss, "fds": fds})
        if failure or proxied < step:
            why = failure or f"only {proxied} of {len(held)} client connections reached the backend"
            if fds >= ctx.nofile * len(proxy.procs) - 16:
                why += f"; the proxy is at its descriptor limit ({fds} open of {ctx.nofile})"
            return curve, why
    return curve, "target reached"


def measure_memory(ctx: Context, name: str, target: int) -> dict:
    print(f"  memory: {name:<16}", end="", flush=True)
    held: list[socket.socket] = []
    try:
        with RunningProxy(ctx, name, ("idle",), target + 64) as proxy:
            rss_idle, _ = process_group_rss_kb(proxy.procs)
            try:
                curve, stopped_by = hold_connections(ctx, proxy, target, held)
            finally:
                for s in held:
                    s.close()
    except StartError as e:
        print(f"did not start: {e}")
        return {"failure": str(e)}
    last = curve[-1]
    complete = [c for c in curve if c["proxied"] >= c["step"]]
    # Per-connection cost from the last complete step: a proxy past its limit may be doing anything meanwhile.
    slope = complete[-1] if complete else last
    result = {"target": target, "proxied": last["proxied"], "stopped_by": stopped_by, "rss_idle_kb": rss_idle,
              "rss_loaded_kb": last["rss_kb"], "open_fds": last["fds"], "curve": curve,
              "bytes_per_connection": round((slope["rss_kb"] - rss_idle) * 1024 / slope["proxied"])
              if slope["proxied"] else None}
    print(f"{last['proxied']} proxied ({stopped_by}), RSS {rss_idle / 1024:.1f} -> {last['rss_kb'] / 1024:.1f} MiB,"
          f" {last['fds']} fds")
    return result


def rss_at(m: dict, step: int) -> int | None:
    """RSS (kB) of a memory result at a step it fully reached."""
    return next((c["rss_kb"] for c in m.get("curve", []) if c["step"] == step and c["proxied"] >= step), None)


def common_step(memory: dict) -> int | None:
    """The largest step every measured proxy fully reached: where their RSS compare like with like."""
    reached = [max((c["step"] for c in m["curve"] if c["proxied"] >= c["step"]), default=0)
               for m in memory.values() if "curve" in m]
    return min(reached) if reached and min(reached) > 0 else None


def memory_target(wanted: int, nofile: int) -> tuple[int, str]:
    """A proxied connection costs the proxy two descriptors; cap the target so every proxy can hold it."""
    fit = (nofile - 256) // 2
    if fit >= wanted:
        return wanted, ""
    return fit, (f"memory step capped at {fit} connections: RLIMIT_NOFILE is {nofile} and cannot be raised "
                 f"here, a proxy needs two descriptors per connection")


# ----------------------------------------------------------------------------------------------------------------
# Statistics and goals.

def median_of(samples: list[Sample]) -> float | None:
    values = [s.value for s in samples if s.value is not None]
    return statistics.median(values) if values else None


def summarize(rounds: list[dict], names: list[str]) -> tuple[dict, dict, dict]:
    """Medians, [min, max] ranges and error totals per proxy per workload, over every round."""
    medians, ranges, errors = {}, {}, {}
    for name in names:
        medians[name], ranges[name], errors[name] = {}, {}, {}
        for w in WORKLOADS:
            samples = [r[name][w.key] for r in rounds if name in r]
            values = [s.value for s in samples if s.value is not None]
            medians[name][w.key] = median_of(samples)
            ranges[name][w.key] = [min(values), max(values)] if values else None
            errors[name][w.key] = sum(s.errors for s in samples)
    return medians, ranges, errors


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def goal_met(w: Workload, r: float | None, goal: float | None) -> bool | None:
    if r is None or goal is None:
        return None
    return r >= goal if w.higher_is_better else r <= goal


def evaluate_goals(medians: dict, errors: dict) -> list[dict]:
    rows = []
    for w in WORKLOADS:
        pg = medians.get("poolgate", {}).get(w.key)
        peers = {n: medians[n][w.key] for n in PEERS if n in medians and medians[n][w.key] is not None}
        best = (max if w.higher_is_better else min)(peers, key=peers.get) if peers else None
        vs_peer = ratio(pg, peers.get(best))
        vs_nopool = ratio(pg, medians.get("poolgate-nopool", {}).get(w.key)) if w.nopool_goal else None
        met = [m for m in (goal_met(w, vs_peer, w.peer_goal), goal_met(w, vs_nopool, w.nopool_goal)) if m is not None]
        rows.append({"workload": w.key, "poolgate": pg, "best_peer": best, "best_peer_value": peers.get(best),
                     "vs_best_peer": vs_peer, "goal_vs_best_peer": w.peer_goal,
                     "met_vs_best_peer": goal_met(w, vs_peer, w.peer_goal),
                     "vs_nopool": vs_nopool, "goal_vs_nopool": w.nopool_goal,
                     "met_vs_nopool": goal_met(w, vs_nopool, w.nopool_goal),
                     "poolgate_errors": errors.get("poolgate", {}).get(w.key, 0),
                     "met": all(met) if met and len(met) == (2 if w.nopool_goal else 1) else None})
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Output: table, JSON, PNG.

def format_value(w: Workload, v: float | None) -> str:
    if v is None:
        return "FAILED"
    return f"{v:,.0f}" if w.unit == "req/s" else f"{v:.1f}"


def goal_text(w: Workload, goal: float | None, against: str) -> str:
    if goal is None:
        return ""
    return f"≥ {goal:.2f}x {against}" if w.higher_is_better else f"≤ {against}'s"


def print_table(names: list[str], medians: dict, errors: dict, memory: dict | None, rounds: int) -> None:
    print(f"\nMedians of {rounds} round(s); '!N' = N client errors over all rounds (socket errors, non-2xx, drops)")
    header = f"{'proxy':<17}" + "".join(f"{w.short:>17}" for w in WORKLOADS)
    units = f"{'':<17}" + "".join(f"{w.unit + (', lower=better' if not w.higher_is_better else ''):>17}"
                                  for w in WORKLOADS)
    print(header + "\n" + units)
    for name in names:
        cells = []
        for w in WORKLOADS:
            err = errors[name][w.key]
            cells.append(f"{format_value(w, medians[name][w.key]) + (f' !{err}' if err else ''):>17}")
        print(f"{name:<17}" + "".join(cells))
    if memory:
        print_memory_table(memory)


def print_memory_table(memory: dict) -> None:
    common = common_step(memory)
    target = next((m["target"] for m in memory.values() if "target" in m), 0)
    print(f"\nMemory: idle proxied connections (target {target:,}), proxy VmRSS summed over its processes, MiB")
    at_common = f"RSS@{common:,}" if common else "RSS@common"
    print(f"{'proxy':<17}{'held':>7}{'RSS idle':>10}{at_common:>11}{'RSS@held':>10}{'bytes/conn':>12}{'fds':>7}  note")
    for name, m in memory.items():
        if "failure" in m:
            print(f"{name:<17}{'-':>7}  {m['failure']}")
            continue
        rss_common = rss_at(m, common) if common else None
        note = "" if m["stopped_by"] == "target reached" else m["stopped_by"]
        print(f"{name:<17}{m['proxied']:>7,}{m['rss_idle_kb'] / 1024:>10.1f}"
              f"{(f'{rss_common / 1024:.1f}' if rss_common else '-'):>11}{m['rss_loaded_kb'] / 1024:>10.1f}"
              f"{m['bytes_per_connection'] or 0:>12,}{m['open_fds']:>7}  {note}")


def print_goals(goals: list[dict], memory: dict | None) -> None:
    print("\npoolgate against its goals (ratios of medians)")
    print(f"{'workload':<29}{'poolgate':>10}{'best peer':>26}{'vs peer':>9}{'goal':>16}"
          f"{'vs pool-off':>13}{'goal':>18}  verdict")
    for g, w in zip(goals, WORKLOADS):
        peer = f"{g['best_peer']} {format_value(w, g['best_peer_value'])}" if g["best_peer"] else "n/a"
        vs_peer = f"{g['vs_best_peer']:.2f}x" if g["vs_best_peer"] is not None else "n/a"
        vs_nopool = f"{g['vs_nopool']:.2f}x" if g["vs_nopool"] is not None else ("n/a" if w.nopool_goal else "")
        verdict = {True: "met", False: "NOT MET", None: "n/a"}[g["met"]]
        if g["poolgate_errors"]:
            verdict += f" (poolgate had {g['poolgate_errors']} client errors)"
        print(f"{w.title:<29}{format_value(w, g['poolgate']):>10}{peer:>26}{vs_peer:>9}"
              f"{goal_text(w, w.peer_goal, 'peer'):>16}{vs_nopool:>13}{goal_text(w, w.nopool_goal, 'pool-off'):>18}"
              f"  {verdict}")
    if memory and "failure" not in memory.get("poolgate", {"failure": 1}) \
            and "failure" not in memory.get("haproxy", {"failure": 1}):
        print_memory_comparison(memory)


def print_memory_comparison(memory: dict) -> None:
    """poolgate's RSS against haproxy's at the largest count both held; the goal (issue 3): no more than haproxy."""
    pg, ha = memory["poolgate"], memory["haproxy"]
    step = common_step({"poolgate": pg, "haproxy": ha})
    if not step:
        return
    pg_rss, ha_rss = rss_at(pg, step), rss_at(ha, step)
    haproxy = f"haproxy {ha_rss / 1024:.1f}M"
    verdict = "met" if pg_rss <= ha_rss else "NOT MET"
    print(f"{f'RSS, {step:,} idle conns':<29}{pg_rss / 1024:>9.1f}M{haproxy:>26}"
          f"{pg_rss / ha_rss:>8.2f}x{'≤ 1.00x peer':>16}{'':>31}  {verdict}")
    print(f"{'':<29}held at most {pg['proxied']:,} vs {ha['proxied']:,}; "
          f"{pg['bytes_per_connection'] or 0:,} vs {ha['bytes_per_connection'] or 0:,} bytes/conn above idle")


def print_errors(rounds: list[dict]) -> None:
    """Every run that had client errors or failed, so an error is never hidden inside a median."""
    lines = []
    for i, r in enumerate(rounds, 1):
        for name, per_workload in r.items():
            for key, s in per_workload.items():
                if s.errors or s.value is None:
                    what = s.detail.get("failure") or ", ".join(
                        [f"{k} {v}" for k, v in s.detail.get("socket_errors", {}).items() if v] +
                        ([f"non-2xx {s.detail['non2xx']}"] if s.detail.get("non2xx") else []) +
                        ([f"{s.errors} dropped"] if key == "pingpong" and s.errors else []))
                    lines.append(f"  round {i} {name} {key}: {what}")
    if lines:
        print("\nClient errors (raw output in the work directory's clients/):")
        print("\n".join(lines))


def machine_info() -> dict:
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    os_name = re.search(r'PRETTY_NAME="(.*)"', Path("/etc/os-release").read_text()) \
        if Path("/etc/os-release").exists() else None
    return {"hostname": platform.node(), "cpu": cpu.group(1) if cpu else platform.processor(),
            "cpus": os.cpu_count(), "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
            "kernel": platform.release(), "os": os_name.group(1) if os_name else platform.system(),
            "tools": tool_versions()}


def tool_versions() -> dict:
    probes = {"haproxy": ["haproxy", "-v"], "nginx": ["nginx", "-v"], "wrk": ["wrk", "-v"],
              "sockperf": ["sockperf", "--version"], "iperf3": ["iperf3", "--version"]}
    versions = {}
    for tool, argv in probes.items():
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            versions[tool] = (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            versions[tool] = None
    return versions


def git_commit() -> tuple[str, bool]:
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") or "unknown", bool(git("status", "--porcelain"))


def samples_to_json(rounds: list[dict], orders: list[list[str]]) -> list[dict]:
    return [{"round": i, "order": order,
             "results": {name: {key: vars(s) for key, s in per.items()} for name, per in r.items()}}
            for i, (r, order) in enumerate(zip(rounds, orders), 1)]


def render_png(path: Path, report: dict, names: list[str]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(WORKLOADS) + (["memory"] if report.get("memory") else [])
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.6 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        if panel == "memory":
            draw_memory_panel(ax, report["memory"])
        else:
            draw_workload_panel(ax, panel, report, names)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    m, other = report["machine"], report["settings"]["other_cpu_pct"]
    fig.suptitle(f"poolgate vs haproxy / nginx on loopback, 1 worker thread each — {report['date'][:16]} — "
                 f"{m['hostname']} ({m['cpu']}, {m['cpus']} CPUs, {m['kernel']}) — commit {report['commit']}"
                 f"{' (dirty)' if report['dirty'] else ''}\nmedians of {report['settings']['rounds']} rounds × "
                 f"{report['settings']['duration_s']} s; whiskers: min–max over rounds; red label = client errors; "
                 f"other processes' CPU during runs: median {other.get('median', 0)}%, max {other.get('max', 0)}%",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


BAR_COLORS = {"direct": "#b0b0b0", "haproxy": "#4c72b0", "haproxy-splice": "#6f94cf", "nginx": "#55a868",
              "poolgate": "#e8590c", "poolgate-nopool": "#f4b183"}


def draw_workload_panel(ax, w: Workload, report: dict, names: list[str]) -> None:
    medians, ranges, errors = report["medians"], report["ranges"], report["errors"]
    values = [medians[n][w.key] or 0 for n in names]
    lows = [v - (ranges[n][w.key][0] if ranges[n][w.key] else v) for n, v in zip(names, values)]
    highs = [(ranges[n][w.key][1] if ranges[n][w.key] else v) - v for n, v in zip(names, values)]
    bars = ax.bar(names, values, color=[BAR_COLORS[n] for n in names], yerr=[lows, highs], capsize=3,
                  edgecolor=["black" if n == "poolgate" else "none" for n in names], linewidth=1.5)
    for bar, n, v, high in zip(bars, names, values, highs):
        label = format_value(w, medians[n][w.key]) if w.unit != "req/s" or v < 1e5 else f"{v / 1000:.0f}k"
        if errors[n][w.key]:
            label += f"\n{errors[n][w.key]} err"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, v + high), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    color="red" if errors[n][w.key] else "black",
                    fontweight="bold" if n == "poolgate" else "normal")
    goal = next(g for g in report["goals"] if g["workload"] == w.key)
    goal_line = goal["best_peer_value"] * w.peer_goal if goal["best_peer_value"] else None
    if goal_line:   # where poolgate's bar has to reach (or stay under)
        ax.axhline(goal_line, color="#e8590c", linestyle="--", linewidth=1)
        ax.annotate("goal", (len(names) - 0.5, goal_line), xytext=(-2, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=7, color="#e8590c")
    top = max(values + [h + v for h, v in zip(highs, values)] + [goal_line or 0])
    ax.set_ylim(0, top * 1.4 or 1)
    ax.set_title(f"{w.title}\n{w.unit}, {'higher' if w.higher_is_better else 'lower'} is better", fontsize=10)
    ax.tick_params(axis="x", labelrotation=25, labelsize=8)
    ax.text(0.01, 0.97, goal_caption(w, goal), transform=ax.transAxes, va="top", fontsize=8,
            color={True: "darkgreen", False: "red", None: "gray"}[goal["met"]])
    ax.grid(axis="y", alpha=0.3)


def goal_caption(w: Workload, g: dict) -> str:
    if g["vs_best_peer"] is None:
        return "poolgate vs best peer: n/a"
    text = f"poolgate / {g['best_peer']}: {g['vs_best_peer']:.2f}x (goal {goal_text(w, w.peer_goal, 'peer')})"
    if w.nopool_goal:
        nopool = f"{g['vs_nopool']:.2f}x" if g["vs_nopool"] is not None else "n/a"
        text += f"\npoolgate / pool-off: {nopool} (goal {goal_text(w, w.nopool_goal, 'pool-off')})"
    return text + ("\nMET" if g["met"] else "\nNOT MET" if g["met"] is False else "")


def draw_memory_panel(ax, memory: dict) -> None:
    """Bars at the largest count every proxy held, so they compare like with like; a red label says how far a
    proxy that stopped short of the target got, and its RSS there."""
    step = common_step(memory)
    names = [n for n, m in memory.items() if step and rss_at(m, step)]
    values = [rss_at(memory[n], step) / 1024 for n in names]
    bars = ax.bar(names, values, color=[BAR_COLORS[n] for n in names],
                  edgecolor=["black" if n == "poolgate" else "none" for n in names], linewidth=1.5)
    for bar, n, v in zip(bars, names, values):
        m = memory[n]
        short = m["proxied"] < m["target"]
        label = f"{v:.1f}"
        if short:
            label += f"\nheld only {m['proxied']:,}\n({m['rss_loaded_kb'] / 1024:.0f} MiB there)"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, v), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    color="red" if short else "black", fontweight="bold" if n == "poolgate" else "normal")
    target = max((m.get("target", 0) for m in memory.values()), default=0)
    ax.set_ylim(0, max(values, default=1) * 1.6 or 1)
    held = f"{step:,} idle proxied connections" + ("" if step == target else f" (target {target:,}; the most all held)")
    ax.set_title(f"Proxy RSS with {held}\nMiB, lower is better", fontsize=10)
    ax.tick_params(axis="x", labelrotation=25, labelsize=8)
    ax.grid(axis="y", alpha=0.3)


# ----------------------------------------------------------------------------------------------------------------
# Main.

def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per client run (default 5)")
    ap.add_argument("--only", default=",".join(ALL_PROXIES),
                    help="comma-separated proxies to run, from: " + ",".join(ALL_PROXIES))
    ap.add_argument("--json", type=Path, default=REPO / "build/compare/results.json",
                    help="results file (default build/compare/results.json); work/ is made next to it")
    ap.add_argument("--png", type=Path, default=REPO / "build/compare/compare.png",
                    help="chart (default build/compare/compare.png)")
    ap.add_argument("--poolgate", type=Path, default=REPO / "build/poolgate",
                    help="the binary to measure (default build/poolgate); a copy is run")
    ap.add_argument("--memory-connections", type=int, default=10000,
                    help="idle proxied connections held for the memory step (default 10000)")
    ap.add_argument("--skip-memory", action="store_true", help="skip the memory step")
    args = ap.parse_args()
    args.names = [n for n in ALL_PROXIES if n in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(ALL_PROXIES)
    if unknown or not args.names:
        ap.error(f"--only: unknown proxy {', '.join(sorted(unknown)) or '(none given)'}; "
                 f"choose from {','.join(ALL_PROXIES)}")
    if args.rounds < 1 or args.duration < 1:
        ap.error("--rounds and --duration must be at least 1")
    if any(n.startswith("poolgate") for n in args.names) and not os.access(args.poolgate, os.X_OK):
        ap.error(f"{args.poolgate} is not an executable; run `make build` first")
    return args


def snapshot_poolgate(binary: Path, work: Path) -> tuple[Path, dict]:
    """Copies the binary into the work directory and asks it what it is. Someone's `make build` may relink
    build/poolgate during a run; starting the file while the linker writes it fails, and a relinked file would
    mix two builds in one comparison."""
    copy = work / "poolgate"
    shutil.copy2(binary, copy)
    version, help_text = run_quietly([str(copy), "--version"]), run_quietly([str(copy), "--help"])
    info = {"path": str(binary), "version": version.strip(), "has_admin_listener": "--admin-listen" in help_text,
            "built": datetime.datetime.fromtimestamp(binary.stat().st_mtime).astimezone().isoformat(timespec="seconds"),
            "sha256": hashlib.sha256(copy.read_bytes()).hexdigest()}
    return copy, info


def run_quietly(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StartError(f"{argv[0]} does not run ({e}); is a build writing it? run `make build`") from e
    if done.returncode != 0:
        raise StartError(f"{' '.join(argv)} failed with status {done.returncode}: {done.stderr.strip()[-200:]}")
    return done.stdout


def machine_busy_pct(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over a moment before the run. Not the load average: on this kind of VM it stays
    high while the CPUs idle."""
    def busy_and_total():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields[:3]), sum(fields[:8])
    (busy0, total0), _, (busy1, total1) = busy_and_total(), time.sleep(seconds), busy_and_total()
    pct = round(100 * (busy1 - busy0) / max(1, total1 - total0), 1)
    if pct > OTHER_CPU_WARN_PCT:
        print(f"warning: the CPUs are {pct}% busy before the start: other work on this machine skews the results",
              file=sys.stderr)
    return pct


def other_cpu_summary(rounds: list[dict]) -> dict:
    """How much CPU processes outside this run took during the client runs, in % of one CPU."""
    values = [s.detail["other_cpu_pct"] for r in rounds for per in r.values() for s in per.values()
              if "other_cpu_pct" in s.detail]
    return {"median": statistics.median(values), "max": max(values)} if values else {}


def check_tools() -> None:
    missing = [t for t in ("wrk", "sockperf", "iperf3", "haproxy", "nginx") if not shutil.which(t)]
    if missing:
        sys.exit(f"compare.py: missing {', '.join(missing)}; run `bash scripts/deps.sh --bench`")


def exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)   # unwinds through the finally blocks that stop every child


def run_benchmark(args: argparse.Namespace, ctx: Context, poolgate_info: dict) -> tuple[dict, list[dict]]:
    """Every round, then the memory step; returns the JSON report and the rounds' Samples."""
    busy_before = machine_busy_pct()
    rounds, orders = [], []
    for i in range(args.rounds):
        orders.append(rotated(args.names, i))
        print(f"Round {i + 1}/{args.rounds}")
        rounds.append(run_round(ctx, i + 1, orders[-1], args.duration))
    medians, ranges, errors = summarize(rounds, args.names)
    memory = None
    if not args.skip_memory:
        target, note = memory_target(args.memory_connections, ctx.nofile)
        print(f"Memory step: {target} idle connections per proxy" + (f" ({note})" if note else ""))
        memory = {n: measure_memory(ctx, n, target) for n in args.names if n != "direct"}
    commit, dirty = git_commit()
    report = {
        "machine": machine_info(), "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit, "dirty": dirty,
        "settings": {"rounds": args.rounds, "duration_s": args.duration, "proxies": args.names,
                     "poolgate": poolgate_info, "wrk_connections": WRK_CONNECTIONS,
                     "busy_before_start_pct": busy_before, "other_cpu_pct": other_cpu_summary(rounds),
                     "memory_connections": None if args.skip_memory else args.memory_connections,
                     "nofile_limit": ctx.nofile, "work_dir": str(ctx.work)},
        "workloads": [vars(w) for w in WORKLOADS],
        "rounds": samples_to_json(rounds, orders), "medians": medians, "ranges": ranges, "errors": errors,
        "goals": evaluate_goals(medians, errors), "memory": memory,
        "memory_common_connections": common_step(memory) if memory else None}
    return report, rounds


def install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, exit_on_signal)
    # Explicitly, because a shell starts background jobs with SIGINT ignored and Python would keep that.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def fresh_work_dir(json_path: Path) -> Path:
    work = json_path.resolve().parent / "work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "clients").mkdir(parents=True)
    return work


def measure_everything(args: argparse.Namespace, work: Path) -> tuple[dict, list[dict]]:
    """Starts the backends, runs the benchmark, and stops every child whatever happens."""
    children = Children(work)
    # The memory step holds one socket per connection here and two (or more) in the proxy: ask for the most the
    # system allows (the hard limit, unless CAP_SYS_RESOURCE lets it grow). Children inherit it.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = raise_nofile_limit(max(args.memory_connections * 2 + 1024, hard))
    try:
        poolgate, poolgate_info = snapshot_poolgate(args.poolgate, work)
        ports = Ports()
        backends = start_backends(children, ports, work, args.memory_connections)
        ctx = Context(children, ports, backends, work, poolgate, poolgate_info["has_admin_listener"], nofile)
        return run_benchmark(args, ctx, poolgate_info)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not interrupt the cleanup
        children.stop_all()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def matplotlib_missing() -> bool:
    try:
        import matplotlib  # noqa: F401
        return False
    except ImportError:
        print(f"warning: {sys.executable} has no matplotlib, so no PNG will be drawn; `bash scripts/deps.sh "
              f"--bench` installs python3-matplotlib for /usr/bin/python3", file=sys.stderr)
        return True


def main() -> int:
    args = parse_args()
    check_tools()
    no_png = matplotlib_missing()   # said before the run, not after ten minutes of it
    install_signal_handlers()
    work = fresh_work_dir(args.json)
    try:
        report, rounds = measure_everything(args, work)
    except StartError as e:
        print(f"compare.py: {e}; logs in {work}", file=sys.stderr)
        return 1
    print_table(args.names, report["medians"], report["errors"], report["memory"], args.rounds)
    print_goals(report["goals"], report["memory"])
    print_errors(rounds)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"\nJSON: {args.json}")
    if not no_png:
        render_png(args.png, report, args.names)
        print(f"PNG:  {args.png}")
    print(f"Logs and raw client output: {work}")
    return 1 if no_png else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:   # main's finally has already stopped every child
        print("\ncompare.py: interrupted; every process it started is stopped", file=sys.stderr)
        sys.exit(130)
