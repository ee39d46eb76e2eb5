"""Approvals announced to a webhook: each new pending approval and each decision is
POSTed as JSON (or as a Slack message), signed with HMAC-SHA256 over its time and body,
and retried when the receiver fails."""
import hashlib
import hmac
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from test_approvals import ALICE, DEPLOYER, OPS, POLICY, admin, approval_id, load

SECRET = "webhook-signing-secret"


class Receiver:
    """A webhook receiver that fails its first `failures` deliveries (500)."""

    def __init__(self, failures=0):
        self.received, self.failures = [], failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    receiver.received.append((self.path, dict(self.headers), body))
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/postern"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout=10):
        deadline = time.time() + timeout
        while len(self.received) < count:
            assert time.time() < deadline, f"{len(self.received)} of {count} announcements"
            time.sleep(0.05)
        return self.received

    def stop(self):
        self.server.shutdown()


def announced(start_postern, model_server, keys, tmp_path, receiver, format="json"):
    secret = tmp_path / "webhook-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o644)
    return start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(),
                         extra=POLICY + f"announcements: {{ url: '{receiver.url}', secret_file: {secret}, format: {format} }}\n",
                         admin=f"operators: ['{OPS}']")


def verified(headers, body):
    """The body, once its signature checks out (as a receiver checks it)."""
    fields = dict(part.split("=", 1) for part in headers["x-postern-signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"]), "bad signature"
    assert abs(time.time() - int(fields["t"])) < 60
    return json.loads(body)


def test_pending_and_decided_approvals_are_announced_signed_and_retried(start_postern, model_server, keys, tmp_path):
    receiver = Receiver(failures=1)  # the first delivery fails: it is sent again
    try:
        p = announced(start_postern, model_server, keys, tmp_path, receiver)
        pending = approval_id(load(p, keys, '{"model": "llama"}')[1])
        assert admin(p, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {"reason": "change 7"})[0] == 200
        events = [verified(headers, body) for path, headers, body in receiver.wait(2)]
        assert [path for path, _, _ in receiver.received] == ["/hooks/postern"] * 2
        assert [e["event"] for e in events] == ["approval.pending", "approval.approved"]
        assert events[0]["approval"]["id"] == pending and events[0]["approval"]["requester"] == DEPLOYER
        assert events[1]["approval"]["verdicts"][0] == {**events[1]["approval"]["verdicts"][0], "approver": ALICE,
                                                        "reason": "change 7"}
        # A forged body does not check out.
        _, headers, body = receiver.received[0]
        with pytest.raises(AssertionError, match="bad signature"):
            verified(headers, body.replace(b"pending", b"approved"))
        metrics = urllib.request.urlopen(p.admin + "/metrics", timeout=5).read().decode()
        assert "postern_announcements_sent_total 2" in metrics and "postern_announcements_pending 0" in metrics
    finally:
        receiver.stop()


def test_a_slack_webhook_gets_a_message_it_can_show(start_postern, model_server, keys, tmp_path):
    receiver = Receiver()
    try:
        p = announced(start_postern, model_server, keys, tmp_path, receiver, format="slack")
        pending = approval_id(load(p, keys, '{"model": "mistral"}')[1])
        text = verified(*receiver.wait(1)[0][1:])["text"]
        assert pending in text and "waits for approval" in text and DEPLOYER in text
    finally:
        receiver.stop()
