#!/usr/bin/env python3
"""Postern's data-path benchmark: one run, same parameters, every target.

An nginx origin answers a small JSON document over HTTP/1.1 and h2c. h2load drives it
directly, then through Postern, nghttpx and Envoy (each with one worker, no access log,
HTTP/2 to the origin). For each target and protocol it reports req/s, p50/p99 latency,
CPU seconds per 10k requests of the proxy process, and its peak RSS, with ratios to
direct and to nghttpx, and heap allocations per request (counted by bench/malloc_count.c,
preloaded into Postern and nghttpx; Envoy links its own allocator). Everything listens on
127.0.0.1 and stops when the run ends.

Usage: bench/run [--requests N] [--repeat K] [--quick] [--baseline BINARY] [--write BENCHMARKS.md]
  --quick      Postern and nghttpx only, 20,000 requests, one run: about a minute
  --baseline   also measures another Postern build (e.g. main's) in the same run
"""
import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTERN = ROOT / ".build" / "release" / "postern"
BODY = '{"id":"cmpl-1","object":"chat.completion","model":"bench","choices":[{"index":0,"message":' \
       '{"role":"assistant","content":"Postern benchmark answer."},"finish_reason":"stop"}]}'
TICKS = os.sysconf("SC_CLK_TCK")
MALLOC_COUNT = ROOT / ".build" / "bench" / "malloc_count.so"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def process_tree(pid):
    """The pid and all its descendants (nghttpx and nginx do their work in child processes)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def cpu_seconds(pid):
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICKS


def peak_rss_mib(pid):
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Process:
    """A target under test; with `count_allocations`, its heap allocations are counted in a
    shared file (see bench/malloc_count.c)."""

    def __init__(self, args, port, count_allocations=False, **kwargs):
        self.counts = None
        if count_allocations and MALLOC_COUNT.exists():
            self.counts = Path(tempfile.mkstemp(prefix="postern-bench-mallocs-")[1])
            env = dict(kwargs.pop("env", os.environ))
            env.update(LD_PRELOAD=str(MALLOC_COUNT), MALLOC_COUNT_FILE=str(self.counts))
            kwargs["env"] = env
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, **kwargs)
        wait_for_port(port)

    @property
    def pid(self):
        return self.proc.pid

    def allocations(self):
        """Heap allocations so far (all processes of the target), or None when not counted."""
        if not self.counts:
            return None
        data = self.counts.read_bytes()
        return int.from_bytes(data[:8], "little") if len(data) >= 8 else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.counts:
            self.counts.unlink(missing_ok=True)


def start_origin(tmp):
    h1, h2 = free_port(), free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log stderr crit;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{h1};
    listen 127.0.0.1:{h2} http2;
    location / {{ default_type application/json; return 200 '{BODY}'; }}
  }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = Process([nginx, "-c", str(conf), "-p", str(tmp)], h2)
    wait_for_port(h1)
    return process, h1, h2


def start_postern(tmp, origin_h2, request_log, binary=POSTERN):
    port, admin = free_port(), free_port()
    conf = tmp / f"postern-{request_log}-{port}.yaml"
    conf.write_text(f"""
listen: {{ address: 127.0.0.1:{port} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams: {{ origin: {{ url: "h2c://127.0.0.1:{origin_h2}" }} }}
routes: [{{ prefix: /, upstream: origin, public: true }}]  # the data path alone; bench/tls.py covers identity
runtime: {{ event_loop_threads: 1, request_log: {str(request_log).lower()} }}
limits: {{ max_concurrent_streams: 1000 }}
""")
    env = dict(os.environ, POSTERN_STATE_DIR=str(tmp))  # no approval store of the user's
    return Process([str(binary), "run", "--config", str(conf)], port, count_allocations=True, env=env), port


def start_nghttpx(tmp, origin_h2):
    port = free_port()
    args = ["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{port};no-tls",
            f"--backend=127.0.0.1,{origin_h2};;proto=h2", "--workers=1", "--no-ocsp",
            "--errorlog-file=/dev/null", "--frontend-http2-max-concurrent-streams=1000"]
    return Process(args, port, count_allocations=True), port


def envoy_binary():
    venv = ROOT / ".venv-bench"
    found = sorted(venv.glob("lib/python*/site-packages/envoy/_bin/envoy"))
    return str(found[0]) if found else shutil.which("envoy")


def start_envoy(tmp, origin_h2, base_id):
    port = free_port()
    conf = tmp / "envoy.yaml"
    conf.write_text(f"""
static_resources:
  listeners:
  - name: bench
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          http2_protocol_options: {{ max_concurrent_streams: 1000 }}
          route_config:
            virtual_hosts:
            - {{ name: all, domains: ["*"], routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: origin }} }}] }}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
  clusters:
  - name: origin
    type: STATIC
    load_assignment:
      cluster_name: origin
      endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {origin_h2} }} }} }} }}] }}]
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{ http2_protocol_options: {{}} }}
""")
    args = [envoy_binary(), "-c", str(conf), "--concurrency", "1", "--base-id", str(base_id),
            "--log-level", "error", "--disable-hot-restart"]
    return Process(args, port), port


def h2load(port, protocol, requests, tmp):
    log = tmp / "h2load.log"
    args = ["h2load", "-n", str(requests), "-c", "10", "-t", "1", f"--log-file={log}"]
    args += ["-m", "10"] if protocol == "h2c" else ["--h1", "-m", "1"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}/v1/chat/completions"],
                         capture_output=True, text=True, timeout=300)
    text = out.stdout
    ok = int(text.split("succeeded,")[0].split(",")[-1].strip().split()[0]) if "succeeded" in text else 0
    rps = float(text.split("finished in")[1].split(",")[1].split("req/s")[0].strip())
    durations = sorted(int(line.split("\t")[2]) for line in log.read_text().splitlines() if line.count("\t") >= 2)
    p50 = durations[len(durations) // 2] / 1000
    p99 = durations[int(len(durations) * 0.99)] / 1000
    return {"ok": ok, "rps": rps, "p50": p50, "p99": p99}


def one_run(name, process, port, protocol, requests, tmp):
    """One h2load run: req/s, latency, CPU per 10k requests and allocations per request."""
    pid = process.pid if process else None
    before = cpu_seconds(pid) if pid else 0
    allocations = process.allocations() if process else None
    result = h2load(port, protocol, requests, tmp)
    result["cpu10k"] = (cpu_seconds(pid) - before) / result["ok"] * 10_000 if pid else None
    after = process.allocations() if process else None
    result["allocs"] = (after - allocations) / result["ok"] if allocations is not None and after else None
    if result["ok"] != requests:
        raise RuntimeError(f"{name} {protocol}: {result['ok']} of {requests} requests succeeded")
    return result


def measure_all(targets, protocol, requests, repeat, tmp):
    """The median run of each target by throughput. The targets take turns run by run, so a
    noisy minute on a shared machine touches all of them alike rather than one."""
    for _, process, ports in targets:
        h2load(ports[protocol], protocol, max(requests // 10, 1000), tmp)  # warm-up
    runs = {name: [] for name, _, _ in targets}
    for _ in range(repeat):
        for name, process, ports in targets:
            runs[name].append(one_run(name, process, ports[protocol], protocol, requests, tmp))
    results = []
    for name, process, _ in targets:
        best = sorted(runs[name], key=lambda r: r["rps"])[repeat // 2]
        best["rss"] = peak_rss_mib(process.pid) if process else None
        best.update(target=name, protocol=protocol)
        results.append(best)
    return results


def table(results, protocol):
    rows = [r for r in results if r["protocol"] == protocol]
    direct = next(r for r in rows if r["target"] == "direct")
    peer = next((r for r in rows if r["target"] == "nghttpx"), None)
    lines = [f"### {'HTTP/2 (h2c), h2load -c 10 -m 10' if protocol == 'h2c' else 'HTTP/1.1, h2load --h1 -c 10'}",
             "",
             "| target | req/s | vs direct | vs nghttpx | p50 ms | p99 ms | p99 vs nghttpx | CPU s / 10k req | CPU vs nghttpx "
             "| allocations / req | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        def ratio(key, base):
            return f"{r[key] / base[key]:.2f}x" if base and base.get(key) and r.get(key) is not None else "-"
        cpu = f"{r['cpu10k']:.3f}" if r["cpu10k"] is not None else "-"
        rss = f"{r['rss']:.1f}" if r["rss"] is not None else "-"
        allocs = f"{r['allocs']:.1f}" if r.get("allocs") is not None else "-"
        lines.append(f"| {r['target']} | {r['rps']:,.0f} | {ratio('rps', direct)} | {ratio('rps', peer)} | "
                     f"{r['p50']:.2f} | {r['p99']:.2f} | {ratio('p99', peer)} | {cpu} | {ratio('cpu10k', peer)} | "
                     f"{allocs} | {rss} |")
    return "\n".join(lines)


def cpu_model():
    return next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                 if l.startswith("model name")), platform.processor())


def append_report(file, report):
    path = Path(file)
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    path.write_text(existing.rstrip() + "\n\n" + report + "\n")


def ratio_table(results, base, peer, base_label, extra=()):
    """Markdown rows of req/s, CPU and RSS with ratios against `base` and `peer`;
    `extra` adds (header, format) columns, each formatting one result."""
    b, p = results[base], results[peer]
    head = (f"| target | req/s | vs {base_label} | vs nghttpx | CPU s / 10k req | CPU vs off | "
            + "".join(f"{h} | " for h, _ in extra) + "peak RSS MiB |")
    rows = [head, "|---" + "|---:" * (6 + len(extra)) + "|"]
    for name, r in results.items():
        rows.append(f"| {name} | {r['rps']:,.0f} | {r['rps'] / b['rps']:.2f}x | {r['rps'] / p['rps']:.2f}x | "
                    f"{r['cpu10k']:.3f} | {r['cpu10k'] / b['cpu10k']:.2f}x | "
                    + "".join(f"{fmt(r)} | " for _, fmt in extra) + f"{r['rss']:.1f} |")
    return rows


def publish(title, description, command, table, write=None):
    """Prints a report (a dated title, the machine and what was measured, the command, the
    table) and appends it to `write` when given."""
    report = "\n\n".join([
        f"## {title}, {time.strftime('%Y-%m-%d')}",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), {platform.platform()}. {description}",
        f"Command: `{command}`",
        "\n".join(table)])
    print("\n" + report)
    if write:
        append_report(write, report)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="Postern and nghttpx only, one short run")
    parser.add_argument("--baseline", help="another Postern binary to measure in the same run")
    parser.add_argument("--write", help="append the result to this Markdown file")
    args = parser.parse_args()
    if args.quick:
        args.requests = min(args.requests, 20_000)
        args.repeat = 1

    tmp = Path(tempfile.mkdtemp(prefix="postern-bench-"))
    processes = []
    results = []
    try:
        origin, origin_h1, origin_h2 = start_origin(tmp)
        processes.append(origin)
        targets = [("direct", None, {"h2c": origin_h2, "http1": origin_h1})]
        starters = [("postern", lambda: start_postern(tmp, origin_h2, False))]
        if args.baseline:
            starters.append(("postern baseline", lambda: start_postern(tmp, origin_h2, False, Path(args.baseline))))
        if not args.quick:
            starters.append(("postern + request log", lambda: start_postern(tmp, origin_h2, True)))
        starters.append(("nghttpx", lambda: start_nghttpx(tmp, origin_h2)))
        if not args.quick:
            starters.append(("envoy", lambda: start_envoy(tmp, origin_h2, 4242)))
        for name, starter in starters:
            if name == "envoy" and not envoy_binary():
                print("envoy not installed (bench/run installs it); skipping", file=sys.stderr)
                continue
            process, port = starter()
            processes.append(process)
            targets.append((name, process, {"h2c": port, "http1": port}))
        for protocol in ["h2c", "http1"]:
            for result in measure_all(targets, protocol, args.requests, args.repeat, tmp):
                results.append(result)
                name = result["target"]
                print(f"{protocol:5} {name:22} {result['rps']:>10,.0f} req/s  p50 {result['p50']:.2f} ms"
                      f"  p99 {result['p99']:.2f} ms  cpu/10k {result['cpu10k'] or 0:.3f} s"
                      f"  allocs/req {result['allocs'] or 0:.1f}", flush=True)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = cpu_model()
    versions = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip()
    report = "\n\n".join([
        f"## Data path, {time.strftime('%Y-%m-%d')}",
        f"Machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}. {versions}. "
        f"Each proxy runs one worker thread, HTTP/2 to an nginx origin on the same machine, no access log "
        f"(except the 'request log' row, whose JSON lines go to /dev/null). Load generator, proxy and origin "
        f"share the two cores, so compare ratios within a run, not absolute numbers across runs. "
        f"Median of {args.repeat} runs of {args.requests:,} requests after a warm-up, the targets taking turns "
        f"run by run.",
        "Command: `bench/run " + ("--quick" if args.quick else f"--requests {args.requests} --repeat {args.repeat}")
        + (" --baseline OTHER" if args.baseline else "") + "`",
        table(results, "h2c"), table(results, "http1")])
    print("\n" + report)
    if args.write:
        append_report(args.write, report)


if __name__ == "__main__":
    main()
