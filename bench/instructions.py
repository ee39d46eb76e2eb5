#!/usr/bin/env python3
"""Instructions per request under callgrind: the noise-free figure to compare commits by.

CPU time on these shared VMs moves by 10-30% between runs of the same build; the number of
user-space instructions a request costs repeats within about 1%. Each target runs under
valgrind's callgrind; after a warm-up the counters are zeroed, a fixed number of requests
is sent with h2load, and the counters are dumped: everything every thread of the process
executed for those requests (not the kernel's share, which is mostly the same syscalls for
Postern and nghttpx).

Loads: h2c GET and HTTP/1.1 GET through a plain proxy, and the h2c POST of bench/targets.py
with every check on (JWT-SVID, the benchmark policy, masking, the audit trail) against
nghttpx proxying the same POST.

Usage: bench/run instructions [--requests N] [--baseline BINARY] [--write BENCHMARKS.md]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import POSTERN, ROOT, publish, start_origin, wait_for_port  # noqa: E402
from targets import BODY, CALLER, h2load, nghttpx_args, postern_config  # noqa: E402

sys.path.insert(0, str(ROOT / "Tests" / "integration"))
from identity_material import Keys, make_svids, mint  # noqa: E402


class Callgrind:
    """One target under callgrind, counting from `zero()` to `dump()`."""

    def __init__(self, args, port, tmp, env=None):
        self.out = tmp / "callgrind.out"
        self.proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
        wait_for_port(port, timeout=120)  # valgrind translates the binary first

    def control(self, *flags):
        subprocess.run(["callgrind_control", *flags, str(self.proc.pid)], check=True, capture_output=True)

    def dump(self, keep=None):
        """Instructions since the last zero; `keep`: where to copy the dump for callgrind_annotate."""
        self.control("-d")
        for _ in range(100):
            dumps = sorted(self.out.parent.glob(self.out.name + ".*"))
            if dumps and "summary:" in dumps[-1].read_text(errors="replace"):
                text = dumps[-1].read_text(errors="replace")
                if keep:
                    shutil.copy(dumps[-1], keep)
                for dump in dumps:
                    dump.unlink()
                return int(next(l.split()[1] for l in text.splitlines() if l.startswith("summary:")))
            time.sleep(0.1)
        raise RuntimeError("callgrind wrote no dump")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(target, port, loads, requests, keep=None, name=""):
    """Instructions per request of each load."""
    counts = {}
    for label, load in loads.items():
        h2load(port, 1000, **load)  # warm-up: connections, caches, the token verified once
        target.control("-z")
        h2load(port, requests, **load)
        counts[label] = target.dump(keep and Path(keep) / f"{name.replace(' ', '-')}-{label}.callgrind") / requests
    return counts


def debug_stripped(binary, tmp, name):
    """valgrind cannot read the DWARF of Swift's release builds; the symbols are kept. Each
    build gets its own directory: two builds are both called `postern`."""
    (tmp / name).mkdir()
    copy = tmp / name / binary.name
    subprocess.run(["strip", "--strip-debug", "-o", str(copy), str(binary)], check=True)
    return copy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--binary", default=str(POSTERN))
    parser.add_argument("--baseline", help="another Postern build, measured the same way")
    parser.add_argument("--write", help="append the result to this Markdown file")
    parser.add_argument("--keep", help="a directory for the dumps, to read with callgrind_annotate")
    parser.add_argument("--only", help="measure only the targets whose name contains this")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("bench/run instructions needs valgrind (apt-get install valgrind)")
    tmp = Path(tempfile.mkdtemp(prefix="postern-instructions-"))
    origin = None
    rows = {}
    try:
        origin, _, origin_h2 = start_origin(tmp)
        keys = Keys(make_svids(tmp / "identity"))
        token = mint(keys.svid_key, sub=CALLER, lifetime=600)
        secure = dict(headers=["content-type: application/json", f"authorization: Bearer {token}"],
                      body=BODY, tmp=tmp)
        plain = {"h2c": {}, "http1": {"h1": True}}
        builds = [("postern", Path(args.binary))]
        if args.baseline:
            builds.append(("baseline", Path(args.baseline)))
        nx_args, nx_port = nghttpx_args(origin_h2)
        plan = [("nghttpx", lambda d: (nx_args + ["--single-process"], nx_port, None), {**plain, "post": secure})]
        for name, binary in builds:
            binary = debug_stripped(binary.resolve(), tmp, f"build-{name}")
            for kind, loads, keys_ in (("plain", plain, None), ("secure", {"post": secure}, keys)):
                def start(d, binary=binary, kind=kind, keys_=keys_, name=name):
                    conf, port = postern_config(d, f"{name}-{kind}", origin_h2, secure=keys_)
                    return [str(binary), "run", "--config", str(conf)], port, dict(os.environ, POSTERN_STATE_DIR=str(d))
                plan.append((f"{name} {kind}", start, loads))
        for name, start, loads in plan:
            if args.only and args.only not in name and name != "nghttpx":
                continue
            workdir = tmp / name.replace(" ", "-")
            workdir.mkdir()
            command, port, env = start(workdir)
            target = Callgrind(command, port, workdir, env)
            try:
                rows[name] = measure(target, port, loads, args.requests, args.keep, name)
            finally:
                target.stop()
            print(name, {k: round(v) for k, v in rows[name].items()}, flush=True)
    finally:
        if origin:
            origin.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    loads = {"h2c": "h2c GET", "http1": "HTTP/1.1 GET", "post": "h2c POST, JWT-SVID, 74-byte body"}
    table = ["| target | load | instructions / request | vs nghttpx |", "|---|---|---:|---:|"]
    for name, counts in rows.items():
        for label, count in counts.items():
            note = loads[label] + (": policy, masking, audit" if name.endswith("secure") else "")
            table.append(f"| {name} | {note} | {count:,.0f} | {count / rows['nghttpx'][label]:.2f}x |")
    publish("Instructions per request",
            f"User-space instructions per request under callgrind ({args.requests:,} requests after a "
            "1,000-request warm-up, every thread of the process), one event loop, nginx origin over h2c.",
            "bench/run instructions" + (" --baseline BINARY" if args.baseline else ""), table, args.write)


if __name__ == "__main__":
    main()
