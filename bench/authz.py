#!/usr/bin/env python3
"""The data path with authorization on against off, in one run: the same Postern build,
the same caller with a cached JWT-SVID, the same KServe v2 infer request (POST, model in
the path) through to an nginx h2c origin. "off" has no functions (every verified identity
may call); "on" classifies and decides every request against the benchmark policy of
bench/policy.py (300 rules, 5,000 callers and patterns, 50 models). nghttpx, a plain
proxy without identity or policy, runs beside them as the reference peer.

Usage: bench/run authz [--requests N] [--repeat K] [--write BENCHMARKS.md]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (POSTERN, ROOT, Process, cpu_seconds, free_port,  # noqa: E402
                   peak_rss_mib, publish, ratio_table, start_nghttpx, start_origin)
from policy import TD, policy  # noqa: E402
from tls import h2load as tls_h2load  # noqa: E402

sys.path.insert(0, str(ROOT / "Tests" / "integration"))
from identity_material import Keys, make_svids, mint  # noqa: E402

CALLER = f"{TD}/ns/pattern4/sa/app"  # admitted by a pattern of the inference function
PATH = "/v2/models/model-12/infer"  # allowed: the whole path, credential to origin, is measured
BODY = '{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["hi"]}]}'


def start_postern(tmp, keys, origin_h2, with_policy):
    port, admin = free_port(), free_port()
    conf = tmp / f"postern-{'on' if with_policy else 'off'}.yaml"
    identity = ("{ trust_domain: prod.example.org, jwt_issuers: [{ kind: jwt-svid, "
                f"bundle: {keys.svid_jwks}, audience: 'spiffe://example.org/postern' }}] }}")
    text = f"""
listen: {{ address: 127.0.0.1:{port} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams: {{ origin: {{ url: "h2c://127.0.0.1:{origin_h2}" }} }}
identity: {identity}
runtime: {{ event_loop_threads: 1, request_log: false }}
limits: {{ max_concurrent_streams: 1000 }}
"""
    if with_policy:
        # The benchmark policy, without its own upstreams line.
        text += "\n".join(policy().splitlines()[1:]) + "\n"
    conf.write_text(text)
    return Process([str(POSTERN), "run", "--config", str(conf)], port), port


def h2load(port, requests, headers, tmp):
    data = tmp / "body.json"
    data.write_text(BODY)
    return tls_h2load(port, PATH, requests, 10, 10, ["content-type: application/json", *headers],
                      extra=["-d", str(data)], scheme="http")


def measure(pid, port, requests, repeat, headers, tmp):
    h2load(port, max(requests // 10, 1000), headers, tmp)  # warm-up (and the token cached)
    runs = []
    for _ in range(repeat):
        before = cpu_seconds(pid)
        rps = h2load(port, requests, headers, tmp)
        runs.append((rps, (cpu_seconds(pid) - before) / requests * 10_000))
    rps, cpu = sorted(runs)[len(runs) // 2]
    return {"rps": rps, "cpu10k": cpu, "rss": peak_rss_mib(pid)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", help="append the result to this Markdown file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="postern-authz-bench-"))
    processes, results = [], {}
    try:
        keys = Keys(make_svids(tmp / "identity"))
        token = mint(keys.svid_key, sub=CALLER, lifetime=600)  # under the 15m Postern allows
        origin, _, origin_h2 = start_origin(tmp)
        processes.append(origin)
        for name, starter, headers in [
            ("postern, authorization off", lambda: start_postern(tmp, keys, origin_h2, False), [f"authorization: Bearer {token}"]),
            ("postern, authorization on", lambda: start_postern(tmp, keys, origin_h2, True), [f"authorization: Bearer {token}"]),
            ("nghttpx (no identity, no policy)", lambda: start_nghttpx(tmp, origin_h2), []),
        ]:
            process, port = starter()
            processes.append(process)
            results[name] = measure(process.pid, port, args.requests, args.repeat, headers, tmp)
            r = results[name]
            print(f"{name:34} {r['rps']:>9,.0f} req/s  cpu/10k {r['cpu10k']:.3f} s  rss {r['rss']:.1f} MiB", flush=True)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    off, on = results["postern, authorization off"], results["postern, authorization on"]
    lines = ratio_table(results, "postern, authorization off", "nghttpx (no identity, no policy)", "authorization off")
    publish("Authorization on the data path",
            f"h2load -c 10 -m 10, "
            f"POST {PATH} with a cached JWT-SVID; one event-loop thread; median of {args.repeat} runs of "
            f"{args.requests:,} requests after a warm-up. Authorization on costs "
            f"{(1 - on['rps'] / off['rps']) * 100:.1f}% of throughput (target: under 5%).",
            f"bench/run authz --requests {args.requests} --repeat {args.repeat}", lines, args.write)


if __name__ == "__main__":
    main()
