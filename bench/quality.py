#!/usr/bin/env python3
"""Masking quality: recall per kind of sensitive value and the share of look-alikes left
intact, per location (JSON strings and numbers; OpenAI chat, tool-call and completion,
Responses API, Anthropic and Ollama streams cut 1-8 characters per event), on the labelled
corpus of Tests/integration/pii_corpus.py, over several seeds, with the quickstart policy.

Usage: bench/run quality [--seeds N] [--per-kind N] [--write BENCHMARKS.md]
"""
import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "integration"))
from bench import POSTERN, ROOT, append_report, cpu_model  # noqa: E402
from pii_corpus import KINDS, STREAM_MODES, Corpus, evaluate, postern_mask  # noqa: E402

LOCATION_NAMES = {"json": "JSON string", "json_number": "JSON number", "content": "chat stream",
                  "tool_call": "tool-call stream", "completion": "completion stream", "responses": "Responses API",
                  "anthropic": "Anthropic", "ollama": "Ollama NDJSON"}

mask = postern_mask(POSTERN, ROOT / "examples" / "quickstart" / "postern.yaml")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--write", help="append the result to this Markdown file")
    args = parser.parse_args()
    totals, examples = {}, []
    for seed in range(1000, 1000 + args.seeds):
        results, misses = evaluate(Corpus(seed, per_kind=args.per_kind), mask)
        for key, (hits, total) in results.items():
            where, kind = key.split(":")
            tally = totals.setdefault(kind, {}).setdefault(where, [0, 0])
            tally[0] += hits
            tally[1] += total
        examples += misses
    locations = ["json", "json_number", *STREAM_MODES]
    rows = ["| kind | judged by | overall | " + " | ".join(LOCATION_NAMES[w] for w in locations) + " |",
            "|---|---|---|" + "---|" * len(locations)]
    for kind in sorted(totals, key=lambda k: (k not in KINDS, k)):
        hits, total = (sum(t[i] for t in totals[kind].values()) for i in (0, 1))
        cells = [f"{h / t:.4f} ({h}/{t})" if t else "—" for h, t in (totals[kind].get(w, (0, 0)) for w in locations)]
        rows.append(f"| {kind} | {'recall' if kind in KINDS else 'kept intact'} | {hits / total:.4f} | "
                    + " | ".join(cells) + " |")
    report = "\n".join([
        f"## Masking quality ({datetime.date.today()}, {cpu_model()})", "",
        f"`bench/run quality`: {args.seeds} seeds x {args.per_kind} values per kind, quickstart policy "
        "(every detector, redact). Recall: planted values no longer readable in the answer; "
        "look-alikes: left exactly as they were.", "", *rows, "",
        f"Misses: {len(examples)}." + "".join(f"\n- {where} {kind}: `{value}`" for where, kind, value, _ in examples[:10]),
    ])
    print(report)
    if args.write:
        append_report(args.write, report)


if __name__ == "__main__":
    main()
