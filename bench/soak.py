#!/usr/bin/env python3
"""Soak: Postern (release build) under steady mixed load for a long while, sampled for
growth. The load, all at once and at a steady rate:
  - h2c and HTTP/1.1 callers (h2load at a fixed request rate) on a JSON route;
  - gRPC bidirectional streams through Postern to a gRPC server (grpcio), some cancelled;
  - SSE chat streams with masking on, a third of them hung up on halfway;
  - callers that open a request and drop the connection before the answer.
Every 10 s it samples Postern's RSS, open file descriptors and connections to its
upstreams. After the warm-up, each should stay flat: the report compares the first and
last minute. Everything listens on 127.0.0.1 and stops when the run ends.

Usage: bench/run soak [--minutes 10] [--write BENCHMARKS.md]
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "integration"))
from bench import POSTERN, ROOT, Process, cpu_model, free_port, publish, wait_for_port  # noqa: E402
import grpc_echo  # noqa: E402

MODEL_SERVER = ROOT / "examples" / "quickstart" / "model_server.py"


def upstream_connections(pid, ports):
    """Established TCP connections of `pid` to any of `ports` on 127.0.0.1."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and fields[9] in inodes and remote_port in ports:
                count += 1
    return count


def sample(pid, ports):
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
    return {"rss": rss, "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())), "upstream": upstream_connections(pid, ports)}


class Load:
    """The callers, each in its own thread, until `stop` is set; counts what each got."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.counts = {}
        self.errors = {}
        self.first_error = {}
        self.lock = threading.Lock()

    def count(self, kind, ok=True):
        with self.lock:
            table = self.counts if ok else self.errors
            table[kind] = table.get(kind, 0) + 1

    def run(self, kind, body, pause):
        def loop():
            while not self.stop.is_set():
                try:
                    body()
                    self.count(kind)
                except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                    self.count(kind, ok=False)
                    with self.lock:
                        self.first_error.setdefault(kind, repr(error)[:300])
                time.sleep(pause)
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread

    def sse(self, client, cancel):
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "card 4111 1111 1111 1111"}]}
        with client.stream("POST", f"http://127.0.0.1:{self.port}/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            for index, _ in enumerate(response.iter_lines()):
                if cancel and index == 2:
                    return  # the caller hangs up halfway

    def dropped(self):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: soak\r\n\r\n")
            time.sleep(0.05)  # gone before the answer

    def grpc_bidi(self, stub, cancel):
        messages = iter([b"ping"] * 5)
        call = stub["Bidi"](messages, timeout=10)
        for index, _ in enumerate(call):
            if cancel and index == 1:
                call.cancel()
                return


def h2load(port, path, rate, seconds, h1):
    args = ["h2load", "-D", str(seconds), "-c", "2", "--rps", str(rate), "--warm-up-time", "1",
            f"http://127.0.0.1:{port}{path}"]
    if h1:
        args.insert(1, "--h1")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--write")
    parser.add_argument("--only", help="some of the loads, comma-separated (h2c, http1, sse, sse-cancelled, dropped, "
                                       "grpc-bidi, grpc-cancelled), to find which one a growth follows")
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    tmp = Path(tempfile.mkdtemp(prefix="postern-soak-"))
    model_port = free_port()
    model = Process([sys.executable, str(MODEL_SERVER), "--port", str(model_port)], model_port)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc_echo.handler(),))
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port, admin = free_port(), free_port()
    conf = tmp / "postern.yaml"
    conf.write_text(f"""
listen: {{ address: 127.0.0.1:{port} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams:
  model: {{ url: "http://127.0.0.1:{model_port}" }}
  echo: {{ url: "h2c://127.0.0.1:{grpc_port}" }}
routes:
  - {{ prefix: /postern.test.Echo/, upstream: echo, public: true, masking: none }}
  - {{ prefix: /, upstream: model, public: true, masking: default }}
masking: {{ default: {{ detectors: all }} }}
runtime: {{ event_loop_threads: 1, request_log: false }}
""")
    postern = Process([str(POSTERN), "run", "--config", str(conf)], port)
    load = Load(port)
    client = httpx.Client(timeout=10)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = grpc_echo.stub(channel)
    callers = {
        "sse": (lambda: load.sse(client, cancel=False), 0.05),
        "sse-cancelled": (lambda: load.sse(client, cancel=True), 0.1),
        "dropped": (load.dropped, 0.1),
        "grpc-bidi": (lambda: load.grpc_bidi(stub, cancel=False), 0.02),
        "grpc-cancelled": (lambda: load.grpc_bidi(stub, cancel=True), 0.1),
    }
    chosen = set(args.only.split(",")) if args.only else set(callers) | {"h2c", "http1"}
    threads = [load.run(kind, *callers[kind]) for kind in callers if kind in chosen]
    drivers = [(kind, h2load(port, "/v1/models", 200, seconds, h1=(kind == "http1"))) for kind in ("h2c", "http1")
               if kind in chosen]
    samples = []
    start = time.time()
    ports = {model_port, grpc_port}
    while time.time() - start < seconds:
        time.sleep(10)
        samples.append({"t": round(time.time() - start), **sample(postern.pid, ports)})
        print(f"soak: {samples[-1]}", flush=True)
    load.stop.set()
    for thread in threads:
        thread.join(timeout=15)
    outputs = [(kind, driver.communicate(timeout=60)[0]) for kind, driver in drivers]
    postern.stop()
    model.stop()
    server.stop(0)
    report(samples, load, outputs, args, seconds)


def summary_line(output):
    for line in output.splitlines():
        if line.startswith("requests:"):
            return line.strip()
    return "no h2load summary"


def report(samples, load, outputs, args, seconds):
    per_minute = max(1, 60 // 10)
    warm = samples[per_minute:2 * per_minute] or samples[:per_minute]
    last = samples[-per_minute:]
    rows = ["| | after warm-up (minute 2) | last minute | change |", "|---|---|---|---|"]
    for key, label, unit in (("rss", "RSS", " MiB"), ("fds", "open file descriptors", ""),
                             ("upstream", "upstream connections", "")):
        before = statistics.mean(s[key] for s in warm)
        after = statistics.mean(s[key] for s in last)
        rows.append(f"| {label} | {before:.1f}{unit} | {after:.1f}{unit} | {after - before:+.1f}{unit} |")
    peak = max(s["rss"] for s in samples)
    rows.append(f"| peak RSS | | {peak:.1f} MiB | |")
    served = ", ".join(f"{k} {v}" for k, v in sorted(load.counts.items()))
    failed = ", ".join(f"{k} {v} (first: {load.first_error[k]})" for k, v in sorted(load.errors.items())) or "none"
    table = "\n".join(rows) + f"\n\nServed by the Python callers: {served or 'none'}; failed: {failed}.\n" + "".join(
        f"h2load ({kind}): {summary_line(output)}\n" for kind, output in outputs)
    print(table)
    publish(f"Soak: {args.minutes:g} minutes of mixed load", (
        f"One event-loop thread, release build, on {cpu_model()}. Load for {seconds} s: h2load on h2c and "
        "HTTP/1.1 (asking 200 req/s each; what it got is below), SSE chat streams masked (a third hung up on halfway), gRPC bidirectional "
        "streams (some cancelled), callers that drop their connection before the answer. Sampled every 10 s."),
        "bench/run soak --minutes 10", table.splitlines(), args.write)


if __name__ == "__main__":
    main()
