#!/usr/bin/env python3
"""Every target of the data-path performance issue, in one run, against nghttpx.

- plain: Postern as a plain proxy (public route, no masking, no audit), h2c and HTTP/1.1;
- secure: a cached JWT-SVID, authorization against the benchmark policy of bench/policy.py,
  masking of the small JSON answer (every detector) and the audit trail (file sink, signed
  checkpoints), POST /v2/models/model-12/infer over h2c, against nghttpx proxying the same
  request (same headers and body) plainly;
- open-loop latency: 10,000 requests offered at 1,000/s (10 connections at 100/s each):
  p99, and what each proxy adds to the origin's own p99;
- memory: RSS idle (started, one request served) and peak under the load;
- scaling: h2c throughput with 2 event-loop threads (Postern) and 2 workers (nghttpx)
  against 1, with h2load on 2 threads.

All on 127.0.0.1 with an nginx origin; load generator, proxies and origin share the
machine, so read the ratios.

Usage: bench/run targets [--requests N] [--repeat K] [--write BENCHMARKS.md]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (POSTERN, ROOT, Process, cpu_seconds, free_port, peak_rss_mib,  # noqa: E402
                   publish, start_origin)
from policy import TD, policy  # noqa: E402
from tls import h2load as tls_h2load  # noqa: E402

sys.path.insert(0, str(ROOT / "Tests" / "integration"))
from identity_material import Keys, make_svids, mint  # noqa: E402

CALLER = f"{TD}/ns/pattern4/sa/app"  # admitted by a pattern of the inference function
PATH = "/v2/models/model-12/infer"
BODY = '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hi"]}]}'


def postern(binary, tmp, name, origin_h2, threads=1, secure=None):
    conf, port = postern_config(tmp, name, origin_h2, threads, secure)
    env = dict(os.environ, POSTERN_STATE_DIR=str(tmp))
    return Process([str(binary), "run", "--config", str(conf)], port, count_allocations=True, env=env), port


def postern_config(tmp, name, origin_h2, threads=1, secure=None):
    """The configuration file of a plain or a secure (`secure`: the identity Keys) Postern."""
    port, admin = free_port(), free_port()
    text = f"""
listen: {{ address: 127.0.0.1:{port} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams: {{ origin: {{ url: "h2c://127.0.0.1:{origin_h2}" }} }}
runtime: {{ event_loop_threads: {threads}, request_log: false }}
limits: {{ max_concurrent_streams: 1000 }}
"""
    if secure is None:
        text += "routes: [{ prefix: /, upstream: origin, public: true }]\n"
    else:
        key = tmp / "audit.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True,
                       capture_output=True)
        (tmp / "audit").mkdir(exist_ok=True)
        text += f"""identity: {{ trust_domain: prod.example.org, jwt_issuers: [{{ kind: jwt-svid, bundle: {secure.svid_jwks},
             audience: 'spiffe://example.org/postern' }}] }}
masking: {{ default: {{ detectors: all, action: redact }} }}
audit: {{ path: {tmp}/audit/audit.jsonl, key: {key}, origin: postern/bench, sync: interval }}
"""
        text += "\n".join(policy().splitlines()[1:]) + "\n"  # the benchmark policy, without its upstreams
    conf = tmp / f"{name}.yaml"
    conf.write_text(text)
    return conf, port


def nghttpx(origin_h2, workers=1):
    args, port = nghttpx_args(origin_h2, workers)
    return Process(args, port, count_allocations=True), port


def nghttpx_args(origin_h2, workers=1):
    port = free_port()
    return ["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{port};no-tls",
            f"--backend=127.0.0.1,{origin_h2};;proto=h2", f"--workers={workers}", "--no-ocsp",
            "--errorlog-file=/dev/null", "--frontend-http2-max-concurrent-streams=1000"], port


def h2load(port, requests, *, h1=False, threads=1, clients=10, headers=(), body=None, extra=(), tmp=None):
    """req/s of one run in which every request succeeds: a GET, or the POST of PATH with `body`."""
    extra = [*extra, "--h1"] if h1 else list(extra)
    if body is not None:
        data = tmp / "body.json"
        data.write_text(body)
        extra += ["-d", str(data)]
    path = PATH if body is not None else "/v1/chat/completions"
    return tls_h2load(port, path, requests, clients, 1 if h1 else 10, headers, extra, scheme="http", threads=threads)


def one_run(process, port, requests, **load):
    """req/s, CPU seconds per 10k requests and allocations per request of one run."""
    cpu, allocs = cpu_seconds(process.pid), process.allocations()
    rps = h2load(port, requests, **load)
    after = process.allocations()
    return (rps, (cpu_seconds(process.pid) - cpu) / requests * 10_000,
            (after - allocs) / requests if allocs is not None and after else None)


def open_loop(port, tmp, **load):
    """p50 and p99 (ms) of 10,000 requests offered at 1,000/s by 10 connections."""
    log = tmp / "latency.log"
    h2load(port, 10_000, extra=["--rps", "100", f"--log-file={log}"], tmp=tmp, **load)
    times = sorted(int(line.split("\t")[2]) for line in log.read_text().splitlines() if line.count("\t") >= 2)
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--binary", default=str(POSTERN), help="the Postern build to measure")
    parser.add_argument("--write", help="append the result to this Markdown file")
    args = parser.parse_args()
    binary = Path(args.binary).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="postern-targets-"))
    processes, rows = [], {}
    try:
        keys = Keys(make_svids(tmp / "identity"))
        token = mint(keys.svid_key, sub=CALLER, lifetime=600)
        secure_load = dict(headers=["content-type: application/json", f"authorization: Bearer {token}"],
                           body=BODY, tmp=tmp)
        origin, origin_h1, origin_h2 = start_origin(tmp)
        processes.append(origin)

        # Every target runs beside the others (idle while another is measured), and each round
        # measures each of them once: a noisy minute on this shared machine then touches
        # every target alike instead of one of them.
        plan = [  # name, process and port, loads, open-loop latencies
            ("nghttpx", nghttpx(origin_h2), {"h2c": {}, "http1": {"h1": True}, "post": secure_load},
             {"get": {}, "post": secure_load}),
            ("postern plain", postern(binary, tmp, "plain", origin_h2), {"h2c": {}, "http1": {"h1": True}},
             {"get": {}}),
            ("postern secure", postern(binary, tmp, "secure", origin_h2, secure=keys), {"post": secure_load},
             {"post": secure_load}),
            ("nghttpx, 2 workers", nghttpx(origin_h2, workers=2), {"h2c": {"threads": 2}}, {}),
            ("postern plain, 2 threads", postern(binary, tmp, "plain2", origin_h2, threads=2),
             {"h2c": {"threads": 2}}, {}),
            ("nghttpx, 1 worker, h2load -t 2", nghttpx(origin_h2), {"h2c": {"threads": 2}}, {}),
            ("postern plain, 1 thread, h2load -t 2", postern(binary, tmp, "plain1", origin_h2),
             {"h2c": {"threads": 2}}, {}),
        ]
        for name, (process, port), loads, _ in plan:
            processes.append(process)
            first = next(iter(loads.values()))
            h2load(port, 1, clients=1, **dict(first, threads=1))
            rows[name] = {"idle": rss_mib(process.pid)}
            for label, load in loads.items():
                h2load(port, max(args.requests // 10, 1000), **load)  # warm-up (the token cached)
        direct_p50, direct_p99 = open_loop(origin_h2, tmp)
        runs = {}
        for round in range(args.repeat):
            for name, (process, port), loads, _ in plan:
                for label, load in loads.items():
                    runs.setdefault((name, label), []).append(one_run(process, port, args.requests, **load))
            print(f"round {round + 1} of {args.repeat} done", flush=True)
        for name, (process, port), loads, latencies in plan:
            for label in loads:
                rows[name][label] = sorted(runs[(name, label)], key=lambda r: r[0])[args.repeat // 2]
            for label, load in latencies.items():
                rows[name]["latency " + label] = open_loop(port, **dict(load, tmp=tmp))
            rows[name]["rss"] = peak_rss_mib(process.pid)
            print(name, rows[name], flush=True)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    peer = rows["nghttpx"]
    table = ["| target | load | req/s | vs nghttpx | CPU s / 10k req | CPU vs nghttpx | allocations / req |",
             "|---|---|---:|---:|---:|---:|---:|"]
    loads = {"h2c": "h2c GET", "http1": "HTTP/1.1 GET", "post": "h2c POST, JWT-SVID, 74-byte body"}
    for name in ["nghttpx", "postern plain", "postern secure"]:
        for label in ["h2c", "http1", "post"]:
            if label not in rows[name]:
                continue
            rps, cpu, allocs = rows[name][label]
            base = peer[label]
            note = loads[label] + (": policy, masking, audit" if name == "postern secure" else "")
            table.append(f"| {name} | {note} | {rps:,.0f} | {rps / base[0]:.2f}x | {cpu:.3f} | {cpu / base[1]:.2f}x | "
                         + (f"{allocs:.1f} |" if allocs is not None else "- |"))
    table += ["", "| target | request | p50 ms at 1,000 req/s | p99 ms | p99 vs nghttpx | p99 added to the origin's |",
              "|---|---|---:|---:|---:|---:|",
              f"| origin direct | GET | {direct_p50:.2f} | {direct_p99:.2f} | - | - |"]
    for name in ["nghttpx", "postern plain", "postern secure"]:
        for label in ["get", "post"]:
            if "latency " + label not in rows[name]:
                continue
            p50, p99 = rows[name]["latency " + label]
            table.append(f"| {name} | {label.upper()} | {p50:.2f} | {p99:.2f} | "
                         f"{p99 / peer['latency ' + label][1]:.2f}x | {p99 - direct_p99:+.2f} ms |")
    table += ["", "| target | RSS idle MiB | peak RSS under load MiB |", "|---|---:|---:|"]
    for name in ["nghttpx", "postern plain", "postern secure"]:
        table.append(f"| {name} | {rows[name]['idle']:.1f} | {rows[name]['rss']:.1f} |")
    table += ["", "| scaling (h2c, h2load -t 2) | 1 | 2 | 2 against 1 | CPU s / 10k req, 1 and 2 |",
              "|---|---:|---:|---:|---:|"]
    for name, one, two in [("nghttpx workers", "nghttpx, 1 worker, h2load -t 2", "nghttpx, 2 workers"),
                           ("postern event-loop threads", "postern plain, 1 thread, h2load -t 2",
                            "postern plain, 2 threads")]:
        (a, cpu_a, _), (b, cpu_b, _) = rows[one]["h2c"], rows[two]["h2c"]
        table.append(f"| {name} | {a:,.0f} | {b:,.0f} | {b / a:.2f}x | {cpu_a:.3f}, {cpu_b:.3f} |")
    publish("Data-path targets", f"One event-loop thread unless said; h2load -c 10 (-m 10 on h2c); median of "
            f"{args.repeat} runs of {args.requests:,} requests after a warm-up, the targets taking turns "
            "run by run. Postern built as the image is "
            f"(`{args.binary}`); nghttpx's RSS counts its master and worker processes.", f"bench/run targets --requests {args.requests} --repeat {args.repeat}",
            table, args.write)


if __name__ == "__main__":
    main()
