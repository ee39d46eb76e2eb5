"""Checkpoints pushed to a C2SP tlog-witness (an independent one, tlog_witness.py): every
push carries a consistency proof the witness checks, Postern keeps the cosigned
checkpoint, a restart picks up where the witness stands, and a log rewritten from
scratch under the same key is refused by the witness and shows in the metrics."""
import base64
import re
import shutil
import subprocess
import time
import urllib.request

import audit_reference as ref
from conftest import POSTERN
from test_audit import audited, call, log_files
from tlog_witness import Witness


def key_of(tmp_path):
    """The log's verifier key, before Postern runs (as a platform team would publish it)."""
    key = tmp_path / "audit.pem"
    if not key.exists():
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    return subprocess.run([str(POSTERN), "audit", "key", "--key", str(key), "--origin", "postern/test"],
                          capture_output=True, text=True, check=True).stdout.strip()


def witnessed(start_postern, model_server, tmp_path, witness):
    return audited(start_postern, model_server, tmp_path,
                   settings=f", witness: {{ url: '{witness.url}', key: '{witness.verifier}', interval: 200ms }}")


def metric(p, name):
    text = urllib.request.urlopen(p.admin + "/metrics", timeout=5).read().decode()
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\d+)$", text, re.M)
    return int(match.group(1)) if match else None


def wait_for(condition, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_witness_cosigns_every_step_with_a_proof_and_a_restart_resumes(start_postern, model_server, tmp_path):
    witness = Witness(key_of(tmp_path))
    try:
        p = witnessed(start_postern, model_server, tmp_path, witness)
        assert wait_for(lambda: witness.state.get("postern/test", (0,))[0] > 0)
        for _ in range(5):
            assert call(p, "/v1/models")[0] == 200
        signed = lambda: metric(p, "postern_audit_signed_records")
        assert wait_for(lambda: metric(p, "postern_audit_witness_cosigned_records") == signed() and signed() > 5)
        assert metric(p, "postern_audit_witness_up") == 1
        # Past the first push, every one proved consistency from the size cosigned before.
        accepted = [(old, size) for old, size, status in witness.answers if status == 200]
        assert accepted[0][0] == 0 and any(old > 0 for old, _ in accepted[1:]), witness.answers
        assert all(status == 200 for _, _, status in witness.answers), witness.answers
        assert len(set(accepted)) == len(accepted), witness.answers  # each checkpoint once
        p.stop()

        # The kept checkpoint carries the log's signature and the witness's cosignature, and
        # the log verifies against it as a trusted checkpoint.
        cosigned = (p.audit_dir / "checkpoint.cosigned").read_text()
        origin, size, root = ref.VerifierKey(p.verifier).open(cosigned)
        assert (origin, size, root) == ("postern/test", *witness.state["postern/test"])
        assert f"\u2014 {witness.name} " in cosigned
        trusted = subprocess.run([str(POSTERN), "audit", "verify", *log_files(p), "--key", p.verifier,
                                  "--trusted", str(p.audit_dir / "checkpoint.cosigned"), "--witness", witness.verifier],
                                 capture_output=True, text=True)
        assert trusted.returncode == 0, trusted.stderr

        # A new run on the same log learns the witness's size (409) and proves from there,
        # reading the proof's leaves from the files it did not write.
        before = len(witness.answers)
        again = witnessed(start_postern, model_server, tmp_path, witness)
        assert call(again, "/v1/models")[0] == 200
        assert wait_for(lambda: metric(again, "postern_audit_witness_cosigned_records") == metric(again, "postern_audit_signed_records")
                        and witness.state["postern/test"][0] > size)
        resumed = witness.answers[before:]
        assert (0, resumed[0][1], 409) == resumed[0] and any(old == size and status == 200 for old, _, status in resumed), resumed
        again.stop()
    finally:
        witness.stop()


def test_a_log_rewritten_from_scratch_is_refused_by_the_witness(start_postern, model_server, tmp_path):
    witness = Witness(key_of(tmp_path))
    try:
        p = witnessed(start_postern, model_server, tmp_path, witness)
        for _ in range(20):
            call(p, "/v1/models")
        assert wait_for(lambda: metric(p, "postern_audit_witness_cosigned_records") > 20), witness.answers
        p.stop()
        cosigned_size = witness.state["postern/test"][0]
        # The host throws its log away and starts over under the same key and name.
        shutil.rmtree(p.audit_dir)
        rewritten = witnessed(start_postern, model_server, tmp_path, witness)
        assert wait_for(lambda: (metric(rewritten, "postern_audit_witness_failures_total") or 0) > 0), (cosigned_size, witness.answers)
        assert metric(rewritten, "postern_audit_witness_up") == 0
        assert witness.state["postern/test"][0] == cosigned_size  # the witness kept the true history
        rewritten.stop()
        assert "the log was cut short or rewritten" in rewritten.stderr_path.read_text()
    finally:
        witness.stop()
