#!/usr/bin/env python3
"""Postern's masking benchmark: MB/s per core of `postern mask` on a corpus shaped like
model-server traffic (OpenAI chat completions with tool calls, KServe v2 BYTES outputs,
nested records as JSON; KServe ModelInferResponse messages as gRPC), hit-free and dense; Presidio's pattern recognizers on the same bytes in
the same run; and the delay masking adds to the first SSE event of a streamed answer.

Usage: bench/run mask [--megabytes N] [--write BENCHMARKS.md]
       bench/run mask --baseline OTHER/postern [--megabytes N]   (this build against another)
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import POSTERN, ROOT, append_report, cpu_model, free_port, wait_for_port  # noqa: E402

WORDS = ("the model reviewed quarterly revenue deployment schedule latency budget region cluster "
         "request summary answer customer invoice shipment status ticket priority").split()
PII = ["card 4111 1111 1111 1111", "mail ann.lee@example.com", "call +1 415 555 2671", "ssn 123-45-6789",
       "iban GB82 WEST 1234 5698 7654 32", "from 10.20.30.40", "key AKIAIOSFODNN7EXAMPLE"]


def sentence(rng, dense):
    words = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
    if dense:
        for _ in range(3):
            words.insert(rng.randrange(len(words)), rng.choice(PII))
    return " ".join(words)


def document(rng, dense):
    kind = rng.randrange(3)
    if kind == 0:
        text = sentence(rng, dense)
        return {"id": f"chatcmpl-{rng.randrange(10**9)}", "object": "chat.completion", "created": 1715000000,
                "model": "llama-3-8b", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": text, "tool_calls": [{"id": "call_1", "type": "function", "function": {
                        "name": "lookup", "arguments": json.dumps({"query": sentence(rng, dense), "limit": 10})}}]}}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 60, "total_tokens": 180}}
    if kind == 1:
        rows = [sentence(rng, dense) for _ in range(4)]
        return {"model_name": "classifier", "model_version": "3", "id": f"req-{rng.randrange(10**9)}",
                "outputs": [{"name": "text_output", "datatype": "BYTES", "shape": [len(rows)], "data": rows},
                            {"name": "scores", "datatype": "FP32", "shape": [4],
                             "data": [round(rng.random(), 4) for _ in range(4)]}]}
    return {"record": {"customer": {"id": f"CUST-{rng.randrange(10**6):06d}", "notes": sentence(rng, dense),
                                    "orders": [{"order_id": f"ORD-2024-{rng.randrange(10**6):06d}",
                                                "created": "2024-05-01T10:30:00Z", "total": 123.45,
                                                "comment": sentence(rng, dense)} for _ in range(2)]}}}


def corpus(path, megabytes, dense):
    rng = random.Random(42 + dense)
    docs, size = [], 0
    while size < megabytes * 1_000_000:
        doc = document(rng, dense)
        docs.append(doc)
        size += len(json.dumps(doc))
    path.write_text(json.dumps(docs))
    return path


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number, value):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(value)) + value


def kserve_response(rng, dense):
    """A ModelInferResponse (Tests/integration/protos/inference.proto): a BYTES output in
    raw_output_contents, an FP32 one, a string parameter, as Triton would send them."""
    rows = [sentence(rng, dense).encode() for _ in range(4)]
    tensor = b"".join(len(r).to_bytes(4, "little") + r for r in rows)
    parameter = field(1, b"note") + field(2, field(3, sentence(rng, dense).encode()))
    text = field(1, b"text_output") + field(2, b"BYTES") + field(3, varint(4))
    scores = field(1, b"scores") + field(2, b"FP32") + field(3, varint(4))
    return (field(1, b"classifier") + field(2, b"3") + field(3, f"req-{rng.randrange(10**9)}".encode())
            + field(4, parameter) + field(5, text) + field(5, scores) + field(6, tensor)
            + field(6, bytes(rng.randrange(256) for _ in range(16))))


def grpc_corpus(path, megabytes, dense):
    """gRPC length-prefixed ModelInferResponse messages, as a streamed answer carries them."""
    rng = random.Random(42 + dense)
    with open(path, "wb") as out:
        size = 0
        while size < megabytes * 1_000_000:
            message = kserve_response(rng, dense)
            out.write(b"\0" + len(message).to_bytes(4, "big") + message)
            size += 5 + len(message)
    return path


def descriptor_set(tmp):
    """inference.proto compiled by protoc (grpcio-tools, from the test clients' .venv)."""
    out = tmp / "inference.pb"
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "grpc_tools.protoc",
                    f"-I{ROOT / 'Tests' / 'integration' / 'protos'}", "--include_imports",
                    f"--descriptor_set_out={out}", "inference.proto"], check=True)
    return out


def run_seconds(config, path, repeat, extra, binary=POSTERN):
    times = []
    for _ in range(repeat):
        with open(path, "rb") as source:
            started = time.perf_counter()
            subprocess.run([str(binary), "mask", "--config", str(config), *extra], stdin=source,
                           stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def postern_mbps(config, path, startup, repeat=3, extra=(), binary=POSTERN):
    """Throughput with the process start (reading the configuration, measured on an empty
    document) taken out, as Presidio's is measured in-process."""
    return path.stat().st_size / (run_seconds(config, path, repeat, extra, binary) - startup) / 1e6


def cpu_seconds(binary, config, path):
    """User and system CPU time of one `postern mask` run: steadier than wall time on a
    shared machine."""
    with open(path, "rb") as source:
        proc = subprocess.Popen([str(binary), "mask", "--config", str(config)], stdin=source, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0
    return usage.ru_utime + usage.ru_stime


def instructions(binary, config, path):
    """Instructions one `postern mask` run executes, counted by callgrind on a stripped copy
    (valgrind cannot read Swift's release debug information): the same on every run, where
    times on a shared machine swing by a third."""
    stripped = Path(tempfile.mkdtemp(prefix="postern-stripped-")) / "postern"
    subprocess.run(["strip", "-o", str(stripped), str(binary)], check=True)
    with open(path, "rb") as source:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(stripped), "mask",
                              "--config", str(config)], stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, check=True).stderr
    return int(out.split("Collected :")[1].split()[0])


def against_baseline(baseline, megabytes, rounds=9):
    """This build's masking throughput over another build's (`--baseline BINARY`), on the
    same corpora, the two run in turn `rounds` times, by CPU time with the start-up's taken
    out (the medians and their ratio), and by instructions executed (start-up taken out)."""
    tmp = Path(tempfile.mkdtemp(prefix="postern-mask-baseline-"))
    config = tmp / "mask.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\nmasking: { default: { detectors: all } }\n")
    empty = tmp / "empty.json"
    empty.write_text("{}")
    lines = ["| corpus | MB | this build MB/s (CPU) | baseline MB/s (CPU) | ratio | this build instructions | "
             "baseline instructions | ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for dense in (False, True):
        path = corpus(tmp / f"corpus-{dense}.json", megabytes, dense)
        speeds = {POSTERN: [], baseline: []}
        for _ in range(rounds):
            for binary in speeds:
                startup = min(cpu_seconds(binary, config, empty) for _ in range(3))
                speeds[binary].append(path.stat().st_size / (cpu_seconds(binary, config, path) - startup) / 1e6)
        now, before = statistics.median(speeds[POSTERN]), statistics.median(speeds[baseline])
        counts = {b: instructions(b, config, path) - instructions(b, config, empty) for b in speeds}
        lines.append(f"| JSON, {'dense' if dense else 'hit-free'} | {path.stat().st_size / 1e6:.1f} | {now:.1f} | "
                     f"{before:.1f} | {now / before:.2f}x | {counts[POSTERN] / 1e6:.0f}M | {counts[baseline] / 1e6:.0f}M | "
                     f"{counts[POSTERN] / counts[baseline]:.3f}x |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def presidio_mbps(path, sample_bytes):
    """Presidio's regex-based recognizers used directly (no NLP engine), on a sample of the
    same corpus. tldextract is kept offline (its bundled suffix list), so nothing leaves
    the machine."""
    import tldextract
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer,
                                                          IpRecognizer, UsSsnRecognizer)
    recognizers = [CreditCardRecognizer(), EmailRecognizer(), UsSsnRecognizer(), IbanRecognizer(), IpRecognizer()]
    text = path.read_text()[:sample_bytes]
    started = time.perf_counter()
    found = sum(len(r.analyze(text=text, entities=r.supported_entities, nlp_artifacts=None)) for r in recognizers)
    elapsed = time.perf_counter() - started
    return len(text.encode()) / elapsed / 1e6, found


def first_event_delay(tmp, config_text, runs=20):
    """Time to the first SSE event, direct and through Postern with masking on."""
    import httpx
    model_port, port, admin = free_port(), free_port(), free_port()
    model = subprocess.Popen([sys.executable, str(ROOT / "examples" / "quickstart" / "model_server.py"),
                              "--port", str(model_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = tmp / "sse.yaml"
    config.write_text(config_text.format(port=port, admin=admin, model=model_port))
    postern = subprocess.Popen([str(POSTERN), "run", "--config", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for_port(model_port)
        wait_for_port(port)
        body = {"stream": True, "delay": 0.05, "messages": [{"role": "user", "content": "hello"}]}

        def first(url):
            samples = []
            with httpx.Client(timeout=10) as client:
                for _ in range(runs):
                    started = time.perf_counter()
                    with client.stream("POST", url, json=body) as response:
                        for line in response.iter_lines():
                            if line.startswith("data:") and '"content": ""' not in line and '"content":""' not in line:
                                samples.append(time.perf_counter() - started)
                                break
            return statistics.median(samples) * 1000
        direct = first(f"http://127.0.0.1:{model_port}/v1/chat/completions")
        through = first(f"http://127.0.0.1:{port}/v1/chat/completions")
        return direct, through
    finally:
        postern.terminate()
        model.terminate()
        postern.wait()
        model.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--presidio-sample", type=int, default=500_000)
    parser.add_argument("--write", help="append the result to this Markdown file")
    parser.add_argument("--baseline", help="another build's postern: compare JSON masking throughput with it only")
    args = parser.parse_args()
    if args.baseline:
        print(against_baseline(Path(args.baseline), args.megabytes))
        return

    tmp = Path(tempfile.mkdtemp(prefix="postern-mask-bench-"))
    config = tmp / "mask.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\nmasking: { default: { detectors: all } }\n")
    rows = []
    empty = tmp / "empty.json"
    empty.write_text("{}")
    startup = run_seconds(config, empty, 5, ())
    for dense in (False, True):
        path = corpus(tmp / f"corpus-{dense}.json", args.megabytes, dense)
        postern = postern_mbps(config, path, startup)
        presidio, found = presidio_mbps(path, args.presidio_sample)
        rows.append((f"JSON, {'dense' if dense else 'hit-free'}", path.stat().st_size / 1e6, postern, presidio, found))
        print(rows[-1], flush=True)
    descriptors = descriptor_set(tmp)
    for dense in (False, True):
        path = grpc_corpus(tmp / f"corpus-{dense}.grpc", args.megabytes, dense)
        postern = postern_mbps(config, path, startup, extra=("--format", "grpc", "--descriptor-set", str(descriptors),
                                                    "--message-type", "inference.ModelInferResponse"))
        rows.append((f"gRPC protobuf (KServe), {'dense' if dense else 'hit-free'}", path.stat().st_size / 1e6,
                     postern, None, None))
        print(rows[-1], flush=True)
    direct, through = first_event_delay(tmp, """
listen: {{ address: 127.0.0.1:{port} }}
admin: {{ address: 127.0.0.1:{admin} }}
upstreams: {{ model: {{ url: "http://127.0.0.1:{model}" }} }}
routes: [{{ prefix: /, upstream: model, public: true }}]
masking: {{ default: {{ detectors: all }} }}
runtime: {{ event_loop_threads: 1, request_log: false }}
""")
    lines = ["| corpus | MB | Postern MB/s (1 core) | Presidio pattern recognizers MB/s | Postern vs Presidio |",
             "|---|---:|---:|---:|---:|"]
    for name, size, postern, presidio, _ in rows:
        if presidio is None:  # Presidio reads text, not protobuf
            lines.append(f"| {name} | {size:.1f} | {postern:.1f} | — | — |")
        else:
            lines.append(f"| {name} | {size:.1f} | {postern:.1f} | {presidio:.3f} | {postern / presidio:,.0f}x |")
    report = "\n\n".join([
        f"## Masking, {time.strftime('%Y-%m-%d')}",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}). `postern mask` (release build, default policy, every "
        f"detector) over one JSON document of OpenAI chat completions with tool calls, KServe v2 BYTES outputs and "
        f"nested records, and over a gRPC stream of KServe ModelInferResponse messages (BYTES tensors in "
        f"raw_output_contents, an FP32 tensor, a string parameter; `--format grpc` with a descriptor set); "
        f"median of 3 runs, minus the process start ({startup * 1000:.0f} ms: `postern mask` on an empty "
        f"document, median of 5). Presidio {presidio_version()}: CreditCard, "
        f"Email, UsSsn, Iban and Ip recognizers called directly (no NLP engine) on the first "
        f"{args.presidio_sample:,} bytes of the same corpus, single thread.",
        f"Command: `bench/run mask --megabytes {args.megabytes}`",
        "\n".join(lines),
        f"First SSE event (quickstart model server, 50 ms between events, median of 20): direct {direct:.1f} ms, "
        f"through Postern with masking {through:.1f} ms ({through - direct:+.1f} ms)."])
    print("\n" + report)
    if args.write:
        append_report(args.write, report)


def presidio_version():
    from importlib.metadata import version
    return version("presidio_analyzer")


if __name__ == "__main__":
    main()
