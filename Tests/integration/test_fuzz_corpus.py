"""Every committed fuzz input (seeds and past findings, Tests/fuzz/corpus/TARGET) is replayed
through its target on every run, so a fixed finding stays fixed. The fuzzing itself is
scripts/fuzz; the replayer is the same target code built without libFuzzer."""
import os
import subprocess

import pytest

from conftest import POSTERN, ROOT

FUZZ = POSTERN.parent / "postern-fuzz"
CORPUS = ROOT / "Tests" / "fuzz" / "corpus"


def targets():
    out = subprocess.run([str(FUZZ), "--list"], capture_output=True, text=True, check=True).stdout
    return [line.split("\t")[0] for line in out.splitlines()]


def test_every_target_has_seeds_and_every_seed_a_target():
    names = targets()
    assert len(names) >= 15
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(names)


@pytest.mark.parametrize("target", targets())
def test_committed_inputs_replay_cleanly(target):
    inputs = [p for p in (CORPUS / target).rglob("*") if p.is_file()]
    assert inputs, f"no seeds for {target}"
    out = subprocess.run([str(FUZZ), target, str(CORPUS / target)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SWIFT_BACKTRACE": "enable=no"})  # a sanitizer's options too
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"{target}: {len(inputs)} inputs replayed"


def test_an_unknown_target_or_missing_input_is_an_error(tmp_path):
    out = subprocess.run([str(FUZZ), "no-such-target", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "usage" in out.stderr
    out = subprocess.run([str(FUZZ), "path"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
