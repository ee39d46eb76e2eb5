#!/usr/bin/env python3
"""The cost of a decision (classify + authorize) with a realistic policy: 300 rules, 5,000
caller IDs and patterns across four functions, 50 models. Runs the release build's
`postern explain --repeat N` for representative requests and prints microseconds per
decision (one thread; nothing else runs in that process). With cedarpy installed (bench/run
installs it) the same policy, written in Cedar, is decided for the same requests in the same
run: `is_authorized_batch` on a pre-parsed policy set and entity set.

Usage: bench/run policy [--repeat N]
"""
import argparse
import json
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTERN = ROOT / ".build" / "release" / "postern"
TD = "spiffe://prod.example.org"


def policy(seed=7):
    """The benchmark policy as Postern's YAML."""
    functions, rules = policy_model(seed)
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


def policy_model(seed=7):
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
        if effect == "allow":
            # An allow rule may not open deployment to other callers (a configuration error).
            if rule.get("functions") == ["deployment"] or "functions" not in rule:
                rule["functions"] = [rng.choice(["inference", "telemetry", "data-access"])]
            if rule.get("operations") == ["model_load"]:
                rule["operations"] = ["infer"]
        rules.append(rule)
    return functions, rules


def cedar(seed=7):
    """The same policy in Cedar: a function's exact callers are members of its Function
    entity, its patterns `like` conditions; deny rules are `forbid`, allow and approval
    rules `permit` (Cedar has no third outcome; the approval rules are evaluated all the
    same). Returns the policy text and the caller entities."""
    functions, rules = policy_model(seed)
    text, entities, parents = [], [], {}
    for function, callers in functions.items():
        text.append(f'permit (principal in Function::"{function}", action, resource) when {{ context.function == "{function}" }};')
        for caller in callers:
            if caller.endswith("/*"):
                text.append(f'permit (principal, action, resource) when {{ context.function == "{function}" '
                            f'&& principal.id like "{caller}" }};')
            else:
                parents.setdefault(caller, []).append(function)
    for rule in rules:
        conditions = []
        if "callers" in rule:
            conditions.append(" || ".join(f'principal == Caller::"{c}"' for c in rule["callers"]))
        for key, field in (("functions", "context.function"), ("operations", "context.operation")):
            if key in rule:
                conditions.append(" || ".join(f'{field} == "{v}"' for v in rule[key]))
        if "namespaces" in rule:
            conditions.append(" || ".join(f'principal.namespace == "{v}"' for v in rule["namespaces"]))
        if "models" in rule:
            conditions.append(" || ".join(f'(context has model && context.model like "{m}")' for m in rule["models"]))
        effect = "forbid" if rule["effect"] == "deny" else "permit"
        when = " && ".join(f"({c})" for c in conditions) or "true"
        text.append(f'@id("{rule["name"]}")\n{effect} (principal, action, resource) when {{ {when} }};')
    return "\n".join(text), parents


def cedar_entity(caller, parents):
    namespace = caller.split("/ns/")[1].split("/")[0] if "/ns/" in caller else ""
    return {"uid": {"type": "Caller", "id": caller}, "attrs": {"id": caller, "namespace": namespace},
            "parents": [{"type": "Function", "id": f} for f in parents.get(caller, [])]}


def time_cedar(repeat):
    """µs per decision for each request through cedarpy, or None without it."""
    try:
        import cedarpy
    except ImportError:
        return None
    text, parents = cedar()
    policies = cedarpy.PolicySet.from_str(text)
    callers = {caller for _, caller, _, _ in REQUESTS}
    entities = cedarpy.Entities.from_json_str(json.dumps(
        [cedar_entity(c, parents) for c in callers]
        + [{"uid": {"type": "Function", "id": f}, "attrs": {}, "parents": []} for f in ("inference", "deployment", "telemetry", "data-access")]
        + [{"uid": {"type": "Model", "id": "any"}, "attrs": {}, "parents": []}]))
    contexts = {
        "/v2/models/model-07/infer": {"function": "inference", "operation": "infer", "model": "model-07"},
        "/v1/chat/completions": {"function": "inference", "operation": "chat_completions"},
        "/inference.GRPCInferenceService/ModelInfer": {"function": "inference", "operation": "ModelInfer"},
    }
    results = []
    batch = min(repeat, 2_000)
    for _, caller, _, path in REQUESTS:
        request = {"principal": f'Caller::"{caller}"', "action": 'Action::"call"', "resource": 'Model::"any"',
                   "context": contexts[path]}
        started = time.process_time()
        answers = cedarpy.is_authorized_batch([request] * batch, policies, entities)
        results.append(((time.process_time() - started) / batch * 1e6, answers[0].decision.name.lower()))
    return results



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
        cedar_times = time_cedar(args.repeat) or [None] * len(REQUESTS)
        print("| request | Postern µs per decision | decision | Cedar (cedarpy) µs per decision | Cedar's decision |")
        print("|---|---:|---|---:|---|")
        for (label, caller, method, path), cedar_time in zip(REQUESTS, cedar_times):
            out = subprocess.run([str(POSTERN), "explain", "--config", str(config), "--caller", caller, "--method", method,
                                  "--path", path, "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
            micros = re.search(r"([0-9.]+) µs each", out.stderr).group(1)
            decision = re.search(r'"decision":\{"outcome":"(\w+)","rule":"([^"]+)"', out.stdout)
            cedar_cell = f"{cedar_time[0]:.2f} | {cedar_time[1]}" if cedar_time else "- | -"
            print(f"| {label} | {micros} | {decision.group(1)} ({decision.group(2)}) | {cedar_cell} |")


if __name__ == "__main__":
    main()
