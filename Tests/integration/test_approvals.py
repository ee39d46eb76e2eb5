"""Just-in-time approval on the wire: a request a rule holds gets 403 with its approval id;
an approver (never the requester) approves it through the admin API; the same request,
retried, passes exactly once on the grant, byte for byte; another body does not."""
import json
import subprocess
import re
import urllib.request
import time

import pytest

from conftest import admin_api, curl
from postgres_server import STORES, shared_postgres, store_yaml
from identity_material import mint

TD = "spiffe://example.org"
DEPLOYER, ALICE, BOB, OPS = (f"{TD}/ns/mlops/sa/deployer", f"{TD}/ns/sre/sa/alice", f"{TD}/ns/sre/sa/bob",
                             f"{TD}/ns/ops/sa/admin")
POLICY = f"""
operations: [{{ methods: [POST], path: /echo, function: deployment, name: model_load }}]
functions:
  deployment: {{ callers: ['{DEPLOYER}'] }}
rules:
  - name: loads-need-approval
    effect: approval
    operations: [model_load]
    approval: {{ approvers: ['{ALICE}', '{BOB}', '{DEPLOYER}'], pending_ttl: 2s, grant_ttl: 60s, grant_uses: 1 }}
"""


postgres = shared_postgres


@pytest.fixture(params=STORES)
def guarded(request, start_postern, model_server, keys, tmp_path):
    """The approval flow on each store: in memory, an SQLite file, PostgreSQL."""
    store = store_yaml(request, tmp_path)
    identity = keys.jwt_svid_yaml()
    return start_postern(upstreams={"model": model_server}, public=False, identity=identity, extra=POLICY + store,
                         admin=f"operators: ['{OPS}']")


def load(p, keys, body, caller=DEPLOYER):
    status, _, reply = curl("-H", f"authorization: Bearer {mint(keys.svid_key, sub=caller)}",
                            "-H", "content-type: application/json", "--data-binary", body, f"{p.url}/echo")
    return status, reply


def admin(p, keys, method, path, body=None, caller=ALICE, token=None):
    return admin_api(p, token or (mint(keys.svid_key, sub=caller) if caller else None), method, path, body)


def approval_id(reply):
    return re.search(r"approval (apr-[\w-]+) is pending", json.loads(reply)["error"]["message"]).group(1)


def test_a_held_request_passes_once_after_an_approver_approves_it(guarded, keys):
    body = '{"model": "llama-3-8b", "config": {"max_batch_size": 8}}'
    status, reply = load(guarded, keys, body)
    assert status == 403 and json.loads(reply)["error"]["code"] == "approval_required"
    pending = approval_id(reply)
    # The same request again waits for the same approval.
    assert approval_id(load(guarded, keys, body)[1]) == pending
    status, shown = admin(guarded, keys, "GET", f"/admin/v1/approvals/{pending}")
    assert status == 200 and shown["state"] == "pending" and shown["requester"] == DEPLOYER
    assert "max_batch_size" in shown["summary"] and shown["rule"] == "loads-need-approval"
    # The requester is an approver of the rule, but never of its own request.
    status, refused = admin(guarded, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {}, caller=DEPLOYER)
    assert status == 403 and "own request" in refused["error"]["message"]
    status, decided = admin(guarded, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {"reason": "change 42"})
    assert status == 200 and decided["state"] == "approved" and decided["verdicts"][0]["reason"] == "change 42"
    # A different body is another request: it waits for its own approval.
    other = load(guarded, keys, body.replace("8", "64"))
    assert other[0] == 403 and approval_id(other[1]) != pending
    # The approved request passes, byte for byte, once.
    assert load(guarded, keys, body) == (200, body.encode())
    entry = [e for e in guarded.request_log(entries=4) if e["status"] == 200][-1]
    assert entry["rule"].startswith("grant grt-") and entry["operation"] == "model_load"
    status, again = load(guarded, keys, body)
    assert status == 403 and approval_id(again) != pending
    log = guarded.stderr_path.read_text()
    assert f"approval {pending} approved by {ALICE} (change 42)" in log


def test_one_deny_rejects_and_pending_approvals_expire(guarded, keys):
    pending = approval_id(load(guarded, keys, '{"a": 1}')[1])
    status, decided = admin(guarded, keys, "POST", f"/admin/v1/approvals/{pending}/deny", {"reason": "no"}, caller=BOB)
    assert status == 200 and decided["state"] == "denied"
    assert admin(guarded, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 409
    waiting = approval_id(load(guarded, keys, '{"b": 2}')[1])
    time.sleep(2.5)
    assert admin(guarded, keys, "GET", f"/admin/v1/approvals/{waiting}")[1]["state"] == "expired"
    assert admin(guarded, keys, "POST", f"/admin/v1/approvals/{waiting}/approve", {})[0] == 409


def test_only_approvers_and_operators_see_approvals(guarded, keys):
    approval_id(load(guarded, keys, '{"c": 3}')[1])
    assert len(admin(guarded, keys, "GET", "/admin/v1/approvals", caller=OPS)[1]["approvals"]) == 1
    assert admin(guarded, keys, "GET", "/admin/v1/approvals", caller=f"{TD}/ns/app/sa/web")[1]["approvals"] == []
    assert admin(guarded, keys, "GET", "/admin/v1/grants", caller=ALICE)[0] == 403
    assert admin(guarded, keys, "GET", "/admin/v1/grants", caller=OPS)[0] == 200


def test_an_operator_revokes_a_grant_before_it_is_used(guarded, keys):
    body = '{"d": 4}'
    pending = approval_id(load(guarded, keys, body)[1])
    admin(guarded, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})
    grant = admin(guarded, keys, "GET", "/admin/v1/grants", caller=OPS)[1]["grants"][0]
    assert grant["state"] == "active" and grant["uses_left"] == 1
    assert admin(guarded, keys, "DELETE", f"/admin/v1/grants/{grant['id']}", caller=OPS)[0] == 200
    assert load(guarded, keys, body)[0] == 403


def test_a_request_held_open_is_forwarded_once_approved(start_postern, model_server, keys):
    identity = keys.jwt_svid_yaml()
    p = start_postern(upstreams={"model": model_server}, public=False, identity=identity,
                      extra=POLICY.replace("pending_ttl: 2s", "pending_ttl: 60s, hold_open: 5s"),
                      admin=f"operators: ['{OPS}']")
    import threading
    results = {}

    def held(name, body):
        started = time.monotonic()
        results[name] = load(p, keys, body) + (time.monotonic() - started,)

    approved = threading.Thread(target=held, args=("approved", '{"e": 5}'))
    denied = threading.Thread(target=held, args=("denied", '{"f": 6}'))
    approved.start()
    denied.start()
    time.sleep(1)
    pending = {a["summary"].split("body")[1]: a["id"] for a in admin(p, keys, "GET", "/admin/v1/approvals")[1]["approvals"]}
    assert len(pending) == 2
    for summary, approval in pending.items():
        verdict = "approve" if '"e"' in summary else "deny"
        assert admin(p, keys, "POST", f"/admin/v1/approvals/{approval}/{verdict}", {}, caller=BOB)[0] == 200
    approved.join(10)
    denied.join(10)
    assert results["approved"][:2] == (200, b'{"e": 5}') and 1 <= results["approved"][2] < 3
    assert results["denied"][0] == 403 and b"denied" in results["denied"][1]
    # Nobody decides: the caller is answered when the hold ends, and the approval stays pending.
    status, reply, seconds = load(p, keys, '{"g": 7}') + (0,)
    assert status == 403 and b"not decided while the request was held" in reply


def test_a_stream_opened_under_a_grant_is_cut_when_the_grant_ends(start_postern, model_server, keys):
    policy = f"""
operations: [{{ methods: [GET], path: /sse, function: data-access, name: export }}]
functions: {{ data-access: {{ callers: ['{DEPLOYER}'] }} }}
rules:
  - {{ name: exports-need-approval, effect: approval, operations: [export],
       approval: {{ approvers: ['{ALICE}'], grant_ttl: 2s, grant_uses: 1 }} }}
"""
    p = start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(), extra=policy,
                      admin=f"operators: ['{OPS}']")

    def export():
        started = time.monotonic()
        out = subprocess.run(["curl", "-sS", "-N", "-H", f"authorization: Bearer {mint(keys.svid_key, sub=DEPLOYER)}",
                              f"{p.url}/sse?events=100&delay=0.05"], capture_output=True, timeout=30)
        return out, time.monotonic() - started

    refused, _ = export()
    pending = approval_id(refused.stdout.split(b"\r\n\r\n")[-1] if b"\r\n\r\n" in refused.stdout else refused.stdout)
    assert admin(p, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
    streamed, seconds = export()
    assert b"data:" in streamed.stdout and b"[DONE]" not in streamed.stdout  # 100 events would take 5 s
    # Grants end on whole seconds: approved in one second, a 2 s grant leaves 1 to 2 s to a
    # stream opened a moment later.
    assert 0.9 < seconds < 3.5
    entry = [e for e in p.request_log(entries=2) if e.get("outcome") == "grant_expired"]
    assert entry and entry[0]["rule"].startswith("grant ")


def test_a_grpc_call_waits_for_approval_and_passes_on_its_grant(start_postern, grpc_server, keys):
    import grpc
    from tritonclient.grpc import service_pb2
    policy = f"""
functions: {{ deployment: {{ callers: ['{DEPLOYER}'] }} }}
rules:
  - {{ name: loads-need-approval, effect: approval, functions: [deployment],
       approval: {{ approvers: ['{ALICE}'], grant_uses: 1 }} }}
"""
    p = start_postern(upstreams={"grpc": grpc_server}, public=False, identity=keys.jwt_svid_yaml(), extra=policy,
                      admin=f"operators: ['{OPS}']")
    channel = grpc.insecure_channel(p.target)
    load_model = channel.unary_unary("/inference.GRPCInferenceService/RepositoryModelLoad")
    request = service_pb2.RepositoryModelLoadRequest(model_name="llama").SerializeToString()
    metadata = [("authorization", f"Bearer {mint(keys.svid_key, sub=DEPLOYER)}")]
    with pytest.raises(grpc.RpcError) as held:
        load_model(request, timeout=10, metadata=metadata)
    assert held.value.code() == grpc.StatusCode.PERMISSION_DENIED
    pending = re.search(r"approval (apr-[\w-]+) is pending", held.value.details()).group(1)
    assert admin(p, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
    # Passed on the grant: the echo server behind does not implement the method.
    with pytest.raises(grpc.RpcError) as reached:
        load_model(request, timeout=10, metadata=metadata)
    assert reached.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as again:
        load_model(request, timeout=10, metadata=metadata)
    assert again.value.code() == grpc.StatusCode.PERMISSION_DENIED  # the grant's one use is spent


def test_the_command_line_decides_approvals_and_revokes(guarded, keys, tmp_path):
    from conftest import POSTERN
    token_file = tmp_path / "alice.token"
    token_file.write_text(mint(keys.svid_key, sub=ALICE) + "\n")
    ops_file = tmp_path / "ops.token"
    ops_file.write_text(mint(keys.svid_key, sub=OPS))

    def postern(*args, token=token_file):
        out = subprocess.run([str(POSTERN), *args, "--admin", f"127.0.0.1:{guarded.admin_port}", "--token-file", str(token)],
                             capture_output=True, text=True, timeout=20)
        return out.returncode, out.stdout, out.stderr

    pending = approval_id(load(guarded, keys, '{"h": 8}')[1])
    code, listed, _ = postern("approvals", "list")
    assert code == 0 and json.loads(listed)["approvals"][0]["id"] == pending
    code, decided, _ = postern("approvals", "approve", pending, "--reason", "ticket 7")
    assert code == 0 and json.loads(decided)["state"] == "approved"
    assert load(guarded, keys, '{"h": 8}')[0] == 200
    code, revoked, _ = postern("revoke", "--identity", DEPLOYER, "--reason", "rotating", token=ops_file)
    assert code == 0 and json.loads(revoked)["identity"] == DEPLOYER
    assert json.loads(load(guarded, keys, '{"h": 8}')[1])["error"]["code"] == "revoked"
    code, _, _ = postern("revoke", "--identity", DEPLOYER)  # Alice approves; she does not operate
    assert code == 1
    code, _, error = postern("approvals", "list", token=tmp_path / "missing")
    assert code == 1 and "token file" in error


def test_metrics_count_requests_decisions_and_approvals(guarded, keys):
    from prometheus_client.parser import text_string_to_metric_families
    load(guarded, keys, '{"i": 9}')                                   # held: approval_required
    curl("-H", f"authorization: Bearer {mint(keys.svid_key, sub=ALICE)}", f"{guarded.url}/v1/models")  # denied
    with urllib.request.urlopen(f"{guarded.admin}/metrics", timeout=5) as reply:
        assert reply.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(reply.read().decode())}
    requests = {(s.labels["outcome"], s.labels["decision"]): s.value for s in families["postern_requests"].samples
                if s.name == "postern_requests_total"}
    assert requests[("approval_required", "needs_approval")] == 1 and requests[("denied", "deny")] == 1
    approvals = {s.labels["state"]: s.value for s in families["postern_approvals"].samples}
    assert approvals["pending"] == 1 and approvals["approved"] == 0
