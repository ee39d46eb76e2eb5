#!/usr/bin/env python3
"""Postern's TLS and identity benchmark: one run, same certificate, Postern and nghttpx.

Both terminate TLS (ECDSA P-256 certificate from Tests/fixtures/make_svids.sh, TLS 1.3,
ALPN h2) in front of the same nginx h2c origin, one worker each. Reported:
- requests/s over TLS (h2load -c 10 -m 10, keep-alive) and CPU per 10k requests;
- handshakes/s and CPU per 1k handshakes (new connections, one request each);
- the cost of bearer tokens: Postern with a JWT-SVID on every request (verified once,
  then served from the verified-token cache) against the same requests without one, and
  an uncached ES256 / RS256 verification timed with `postern token --repeat`.

Usage: bench/run tls [--requests N] [--handshakes N] [--write BENCHMARKS.md]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (POSTERN, ROOT, Process, append_report, cpu_model, cpu_seconds, free_port,  # noqa: E402
                   start_origin)

sys.path.insert(0, str(ROOT / "Tests" / "integration"))
from identity_material import AUDIENCE, Keys, make_svids, mint  # noqa: E402


def start_postern(tmp, keys, origin_h2):
    port, admin = free_port(), free_port()
    conf = tmp / "postern-tls.yaml"
    conf.write_text(f"""
listen: {{ address: 127.0.0.1:{port}, tls: {keys.tls_yaml('none')} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams: {{ origin: {{ url: "h2c://127.0.0.1:{origin_h2}" }} }}
routes:
  - {{ prefix: /public/, upstream: origin, public: true }}
  - {{ prefix: /, upstream: origin }}
identity: {keys.identity_yaml()}
runtime: {{ event_loop_threads: 1, request_log: false }}
limits: {{ max_concurrent_streams: 1000 }}
""")
    return Process([str(POSTERN), "run", "--config", str(conf)], port), port, conf


def start_nghttpx(keys, origin_h2):
    port = free_port()
    args = ["nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{port}",
            f"--backend=127.0.0.1,{origin_h2};;proto=h2", "--workers=1", "--no-ocsp",
            "--errorlog-file=/dev/null", "--frontend-http2-max-concurrent-streams=1000",
            str(keys.dir / "server-pkcs8.key"), str(keys.dir / "server.pem")]
    return Process(args, port), port


def h2load(port, path, requests, clients, streams, headers=(), extra=(), scheme="https", threads=1):
    """req/s of one h2load run in which every request succeeds (or an error saying why)."""
    args = ["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams), "-t", str(threads), *extra]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(args + [f"{scheme}://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=600)
    text = out.stdout
    ok = int(text.split("succeeded,")[0].split(",")[-1].strip().split()[0]) if "succeeded" in text else 0
    if ok != requests:
        raise RuntimeError(f"{ok} of {requests} requests succeeded:\n{text[-2000:]}\n{out.stderr[-2000:]}")
    return float(text.split("finished in")[1].split(",")[1].split("req/s")[0].strip())


def requests_per_second(pid, port, path, requests, headers=()):
    h2load(port, path, max(requests // 10, 1000), 10, 10, headers)  # warm-up
    before = cpu_seconds(pid)
    rps = h2load(port, path, requests, 10, 10, headers)
    return rps, (cpu_seconds(pid) - before) / requests * 10_000


def handshakes_per_second(pid, port, handshakes):
    """New connections, each carrying one request: h2load with as many clients as requests."""
    batch = 50
    before, started = cpu_seconds(pid), time.monotonic()
    for _ in range(handshakes // batch):
        h2load(port, "/public/", batch, batch, 1)
    elapsed = time.monotonic() - started
    done = handshakes // batch * batch
    return done / elapsed, (cpu_seconds(pid) - before) / done * 1000


def verification_micros(conf, token, repeat):
    out = subprocess.run([str(POSTERN), "token", "--config", str(conf), "--repeat", str(repeat)],
                         input=token, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return float(out.stderr.split(",")[1].split("µs")[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--handshakes", type=int, default=2000)
    parser.add_argument("--write", help="append the result to this Markdown file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="postern-tls-bench-"))
    processes = []
    rows = {}
    try:
        keys = Keys(make_svids(tmp))
        origin, _, origin_h2 = start_origin(tmp)
        processes.append(origin)
        postern, postern_port, conf = start_postern(tmp, keys, origin_h2)
        nghttpx, nghttpx_port = start_nghttpx(keys, origin_h2)
        processes += [postern, nghttpx]
        token = mint(keys.svid_key, lifetime=900)
        for name, process, port in [("postern", postern, postern_port), ("nghttpx", nghttpx, nghttpx_port)]:
            rows[name] = {
                "rps": requests_per_second(process.pid, port, "/public/", args.requests),
                "hs": handshakes_per_second(process.pid, port, args.handshakes),
            }
            print(name, rows[name], flush=True)
        rows["postern + JWT-SVID"] = {"rps": requests_per_second(postern.pid, postern_port, "/v1/", args.requests,
                                                                 [f"authorization: Bearer {token}"])}
        print(rows["postern + JWT-SVID"], flush=True)
        es256 = verification_micros(conf, token, 20_000)
        rs256 = verification_micros(conf, mint(keys.oidc_key, kid="idp-1", alg="RS256", aud="postern",
                                               iss="https://idp.example.test", email="a@b"), 20_000)
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    peer = rows["nghttpx"]
    lines = ["| target | req/s over TLS | vs nghttpx | CPU s / 10k req | CPU vs nghttpx | handshakes/s | vs nghttpx "
             "| CPU s / 1k handshakes | CPU vs nghttpx |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        rps, cpu = row["rps"]
        cells = [f"{rps:,.0f}", f"{rps / peer['rps'][0]:.2f}x", f"{cpu:.3f}", f"{cpu / peer['rps'][1]:.2f}x"]
        if "hs" in row:
            hs, hs_cpu = row["hs"]
            cells += [f"{hs:,.0f}", f"{hs / peer['hs'][0]:.2f}x", f"{hs_cpu:.3f}", f"{hs_cpu / peer['hs'][1]:.2f}x"]
        else:
            cells += ["-"] * 4
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    token_cost = (rows["postern + JWT-SVID"]["rps"][1] - rows["postern"]["rps"][1]) / 10_000 * 1e6
    cpu = cpu_model()
    report = "\n\n".join([
        f"## TLS and identity, {time.strftime('%Y-%m-%d')}",
        f"Machine: {os.cpu_count()} cores ({cpu}). Postern and nghttpx terminate TLS 1.3 with the same ECDSA P-256 "
        f"certificate (ALPN h2), one worker each, in front of the same nginx h2c origin. Requests: h2load -c 10 -m 10, "
        f"{args.requests:,} after a warm-up. Handshakes: {args.handshakes:,} new connections of one request each "
        f"(h2load in batches of 50 clients; the client's own handshake work shares the two cores).",
        f"Command: `bench/run tls --requests {args.requests} --handshakes {args.handshakes}`",
        "\n".join(lines),
        f"Bearer tokens: a JWT-SVID on every request costs Postern {token_cost:+.1f} µs of CPU per request once "
        f"verified (the verified-token cache; 'postern + JWT-SVID' row vs 'postern'). An uncached verification, "
        f"parse to principal (`postern token --repeat 20000`): ES256 {es256:.1f} µs, RS256 {rs256:.1f} µs."])
    print("\n" + report)
    if args.write:
        append_report(args.write, report)


if __name__ == "__main__":
    main()
