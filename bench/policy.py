#!/usr/bin/env python3
"""The cost of a decision (classify + authorize) with a realistic policy: 300 rules, 5,000
caller IDs and patterns across four functions, 50 models. Runs the release build's
`postern explain --repeat N` for representative requests and prints microseconds per
decision (CPU time of one thread; nothing else runs in that process).

Usage: bench/run policy [--repeat N]
"""
import argparse
import random
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTERN = ROOT / ".build" / "release" / "postern"
TD = "spiffe://prod.example.org"


def policy(seed=7):
    rng = random.Random(seed)
    models = [f"model-{i:02d}" for i in range(50)]
    functions = {"inference": [], "deployment": [], "telemetry": [], "data-access": []}
    names = list(functions)
    for i in range(4800):  # exact IDs, one function each
        functions[names[i % 4]].append(f"{TD}/ns/team{i % 97}/sa/workload{i}")
    for i in range(200):   # patterns
        functions[names[i % 4]].append(f"{TD}/ns/pattern{i}/*")
    rules = []
    for i in range(300):
        effect = ["deny", "allow", "approval"][i % 3]
        rule = {"name": f"rule-{i:03d}", "effect": effect}
        kind = rng.randrange(4)
        if kind == 0:
            rule["models"] = [f"{rng.choice(models)}*"]
        elif kind == 1:
            rule["namespaces"] = [f"team{rng.randrange(97)}"]
            rule["models"] = [rng.choice(models)]
        elif kind == 2:
            rule["callers"] = [f"{TD}/ns/team{rng.randrange(97)}/sa/workload{rng.randrange(4800)}"]
            rule["functions"] = [rng.choice(names)]
        else:
            rule["operations"] = [rng.choice(["infer", "model_load", "chat_completions"])]
            rule["namespaces"] = [f"team{rng.randrange(97)}"]
        rules.append(rule)
    lines = ["upstreams: { m: { url: 'http://127.0.0.1:1' } }", "functions:"]
    for name, callers in functions.items():
        lines.append(f"  {name}: {{ callers: [{', '.join(repr(c) for c in callers)}] }}")
    lines.append("rules:")
    for rule in rules:
        parts = [f"name: {rule['name']}", f"effect: {rule['effect']}"]
        for key in ("callers", "functions", "operations", "models", "namespaces"):
            if key in rule:
                parts.append(f"{key}: [{', '.join(repr(v) for v in rule[key])}]")
        lines.append("  - { " + ", ".join(parts) + " }")
    return "\n".join(lines) + "\n"


REQUESTS = [
    ("exact caller, KServe infer", f"{TD}/ns/team0/sa/workload0", "POST", "/v2/models/model-07/infer"),
    ("pattern caller, chat", f"{TD}/ns/pattern4/sa/app", "POST", "/v1/chat/completions"),
    ("caller outside the function, a rule decides", f"{TD}/ns/team1/sa/workload1", "POST", "/v2/models/model-07/infer"),
    ("gRPC ModelInfer", f"{TD}/ns/team4/sa/workload4", "POST", "/inference.GRPCInferenceService/ModelInfer"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="postern-policy-bench-") as tmp:
        config = Path(tmp) / "policy.yaml"
        config.write_text(policy())
        print(f"policy: 300 rules, 5,000 callers (4,800 exact, 200 patterns), 50 models; {args.repeat} decisions each")
        for label, caller, method, path in REQUESTS:
            out = subprocess.run([str(POSTERN), "explain", "--config", str(config), "--caller", caller, "--method", method,
                                  "--path", path, "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
            micros = re.search(r"([0-9.]+) µs each", out.stderr).group(1)
            decision = re.search(r'"decision":\{"outcome":"(\w+)","rule":"([^"]+)"', out.stdout)
            print(f"| {label} | {micros} µs | {decision.group(1)} ({decision.group(2)}) |")


if __name__ == "__main__":
    main()
