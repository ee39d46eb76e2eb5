#!/usr/bin/env python3
"""The audit trail's cost, in one run: the same Postern build with the audit trail off and
on (file sink, `sync: interval`, the default, and `sync: always`), plain proxying of GET /
to an nginx h2c origin, nghttpx beside them as the reference peer. Closed-loop maximum
throughput (h2load -c 10 -m 10), then open-loop latency at 1,000 requests per second
(h2load --rps, per-request times from its log file), then `postern audit verify` over the
log the run wrote, in records per second.

Usage: bench/run audit [--requests N] [--repeat K] [--write BENCHMARKS.md]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (POSTERN, Process, cpu_seconds, free_port,  # noqa: E402
                   peak_rss_mib, publish, ratio_table, start_nghttpx, start_origin)
from tls import h2load  # noqa: E402


def start_postern(tmp, origin_h2, sync):
    port, admin = free_port(), free_port()
    conf = tmp / f"postern-{sync}.yaml"
    audit = ""
    if sync != "off":
        key = tmp / "audit.pem"
        if not key.exists():
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
        (tmp / sync).mkdir()
        audit = f"audit: {{ path: {tmp / sync}/audit.jsonl, key: {key}, origin: postern/bench, sync: {sync} }}"
    conf.write_text(f"""
listen: {{ address: 127.0.0.1:{port} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams: {{ origin: {{ url: "h2c://127.0.0.1:{origin_h2}" }} }}
routes: [{{ prefix: /, upstream: origin, public: true }}]
runtime: {{ event_loop_threads: 1, request_log: false }}
limits: {{ max_concurrent_streams: 1000 }}
{audit}
""")
    return Process([str(POSTERN), "run", "--config", str(conf)], port), port, conf


def p99_ms(port, tmp):
    """p50 and p99 of 10,000 requests offered at 1,000/s by 10 connections, open loop."""
    log = tmp / "h2load.log"
    h2load(port, "/", 10_000, 10, 1, extra=["--rps", "100", f"--log-file={log}"], scheme="http")
    latencies = sorted(int(line.split()[2]) for line in log.read_text().splitlines() if line.strip())
    return latencies[len(latencies) // 2] / 1000, latencies[int(len(latencies) * 0.99)] / 1000


def measure(pid, port, requests, repeat, tmp):
    h2load(port, "/", max(requests // 10, 1000), 10, 10, scheme="http")  # warm-up
    runs = []
    for _ in range(repeat):
        before = cpu_seconds(pid)
        rps = h2load(port, "/", requests, 10, 10, scheme="http")
        runs.append((rps, (cpu_seconds(pid) - before) / requests * 10_000))
    rps, cpu = sorted(runs)[len(runs) // 2]
    p50, p99 = p99_ms(port, tmp)
    return {"rps": rps, "cpu10k": cpu, "rss": peak_rss_mib(pid), "p50": p50, "p99": p99}


def verify_speed(conf, tmp, sync):
    files = sorted(str(f) for f in (tmp / sync).iterdir())
    key = subprocess.run([str(POSTERN), "audit", "key", "--config", str(conf)], capture_output=True, text=True,
                         check=True).stdout.strip()
    started = time.perf_counter()
    out = subprocess.run([str(POSTERN), "audit", "verify", *files, "--key", key], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"verify failed: {out.stderr[-2000:]}")
    records = int(out.stdout.split("ok: ")[1].split()[0])
    return records, records / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", help="append the result to this Markdown file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="postern-audit-bench-"))
    processes, results, verified = [], {}, None
    try:
        origin, _, origin_h2 = start_origin(tmp)
        processes.append(origin)
        for name, sync in [("postern, audit off", "off"), ("postern, audit on (sync interval)", "interval"),
                           ("postern, audit on (sync always)", "always"), ("nghttpx", None)]:
            if sync is None:
                process, port = start_nghttpx(tmp, origin_h2)
            else:
                process, port, conf = start_postern(tmp, origin_h2, sync)
            processes.append(process)
            results[name] = measure(process.pid, port, args.requests, args.repeat, tmp)
            r = results[name]
            print(f"{name:36} {r['rps']:>9,.0f} req/s  cpu/10k {r['cpu10k']:.3f} s  p50 {r['p50']:.2f} ms  "
                  f"p99 {r['p99']:.2f} ms  rss {r['rss']:.1f} MiB", flush=True)
            if sync == "interval":
                process.stop()
                verified = verify_speed(conf, tmp, sync)
                print(f"verify: {verified[0]:,} records at {verified[1]:,.0f} records/s", flush=True)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    off = results["postern, audit off"]
    lines = ratio_table(results, "postern, audit off", "nghttpx", "audit off",
                        extra=[("p50 ms @1k/s", lambda r: f"{r['p50']:.2f}"), ("p99 ms @1k/s", lambda r: f"{r['p99']:.2f}")])
    on = results["postern, audit on (sync interval)"]
    publish("The audit trail on the data path",
            f"GET / through to an nginx h2c origin, "
            f"h2load -c 10 -m 10, one event-loop thread, median of {args.repeat} runs of {args.requests:,} requests after "
            f"a warm-up; latency open-loop at 1,000 req/s (10 connections at 100/s). The audit trail (file sink, "
            f"sync interval) costs {(1 - on['rps'] / off['rps']) * 100:.1f}% of throughput (target: at most 10%) and adds "
            f"{on['p99'] - off['p99']:.2f} ms to p99 (target: under 1 ms). `postern audit verify` read "
            f"{verified[0]:,} records at {verified[1]:,.0f} records/s.",
            f"bench/run audit --requests {args.requests} --repeat {args.repeat}", lines, args.write)


if __name__ == "__main__":
    main()
