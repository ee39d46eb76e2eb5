"""Revocation through the admin API: an identity, a pattern or a token id revoked by an
operator is refused from the next request on, its open streams are cut, and lifting it
restores access. The API itself serves its operators only."""
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import POSTERN, admin_api, curl
from identity_material import mint
from postgres_server import STORES, shared_postgres, store_yaml

TD = "spiffe://example.org"
WEB, API, ONCALL = f"{TD}/ns/app/sa/web", f"{TD}/ns/app/sa/api", f"{TD}/ns/sre/sa/oncall"


postgres = shared_postgres


@pytest.fixture(params=STORES)
def guarded(request, start_postern, model_server, keys, tmp_path):
    """Revocation on each store: in memory, an SQLite file, PostgreSQL."""
    identity = keys.jwt_svid_yaml()
    policy = f"""
operations: [{{ methods: [GET], path: /sse, function: inference, name: events }}]
functions: {{ inference: {{ callers: ['{TD}/ns/app/*'] }} }}
"""
    return start_postern(upstreams={"model": model_server}, public=False, identity=identity,
                         extra=policy + store_yaml(request, tmp_path), admin=f"operators: ['{ONCALL}']")


def admin(p, keys, method, path, body=None, caller=ONCALL, token=None):
    return admin_api(p, token or (mint(keys.svid_key, sub=caller) if caller else None), method, path, body)


def call(p, keys, caller=WEB, token=None, path="/v1/models"):
    status, _, body = curl("-H", f"authorization: Bearer {token or mint(keys.svid_key, sub=caller)}", f"{p.url}{path}")
    return status, body


def test_a_revoked_identity_is_refused_until_the_revocation_is_lifted(guarded, keys):
    assert call(guarded, keys)[0] == 200
    status, created = admin(guarded, keys, "POST", "/admin/v1/revocations", {"identity": WEB, "reason": "key leaked"})
    assert status == 201 and created["identity"] == WEB and created["by"] == ONCALL
    status, body = call(guarded, keys)
    error = json.loads(body)["error"]
    assert status == 403 and error["code"] == "revoked" and "key leaked" in error["message"]
    assert call(guarded, keys, caller=API)[0] == 200  # the rest of the function is untouched
    assert admin(guarded, keys, "GET", "/admin/v1/revocations")[1]["revocations"][0]["id"] == created["id"]
    assert admin(guarded, keys, "DELETE", f"/admin/v1/revocations/{created['id']}")[0] == 200
    assert call(guarded, keys)[0] == 200
    assert "revocation" in guarded.stderr_path.read_text() and f"added by {ONCALL}" in guarded.stderr_path.read_text()


def test_patterns_tokens_and_time_limits(guarded, keys):
    stolen = mint(keys.svid_key, sub=WEB)
    jti = json.loads(subprocess.run(["python3", "-c", "import sys,json,base64;p=sys.argv[1].split('.')[1];"
                                     "print(base64.urlsafe_b64decode(p+'='*(-len(p)%4)).decode())", stolen],
                                    capture_output=True, text=True).stdout)["jti"]
    assert admin(guarded, keys, "POST", "/admin/v1/revocations", {"token_id": jti})[0] == 201
    assert call(guarded, keys, token=stolen)[0] == 403
    assert call(guarded, keys)[0] == 200  # a fresh token for the same identity
    status, _ = admin(guarded, keys, "POST", "/admin/v1/revocations",
                      {"pattern": f"{TD}/ns/app/*", "until": int(time.time()) + 2})
    assert status == 201
    assert call(guarded, keys)[0] == 403 and call(guarded, keys, caller=API)[0] == 403
    time.sleep(2.5)
    assert call(guarded, keys)[0] == 200


def test_a_revocation_cuts_streams_already_open(guarded, keys):
    result = {}

    def stream():
        started = time.monotonic()
        out = subprocess.run(["curl", "-sS", "-N", "-H", f"authorization: Bearer {mint(keys.svid_key, sub=WEB)}",
                              f"{guarded.url}/sse?events=100&delay=0.05"], capture_output=True, timeout=30)
        result.update(seconds=time.monotonic() - started, body=out.stdout, code=out.returncode)

    thread = threading.Thread(target=stream)
    thread.start()
    time.sleep(1)
    assert admin(guarded, keys, "POST", "/admin/v1/revocations", {"identity": WEB})[0] == 201
    thread.join(timeout=15)
    assert result["seconds"] < 4 and result["code"] != 0  # cut: 100 events would take 5 s
    assert b"data:" in result["body"] and b"[DONE]" not in result["body"]
    entry = [e for e in guarded.request_log(entries=1) if e.get("path") == "/sse"][-1]
    assert entry["outcome"] == "revoked"


@pytest.mark.parametrize("caller,expected", [(None, 401), (WEB, 403)])
def test_the_admin_api_serves_its_operators_only(guarded, keys, caller, expected):
    status, body = admin(guarded, keys, "POST", "/admin/v1/revocations", {"identity": API}, caller=caller)
    assert status == expected and body["error"]["code"] in ("unauthenticated", "permission_denied")
    assert call(guarded, keys, caller=API)[0] == 200
    with urllib.request.urlopen(f"{guarded.admin}/healthz", timeout=5) as reply:  # probes need no credential
        assert reply.status == 200


@pytest.mark.parametrize("body", [{}, {"identity": WEB, "token_id": "x"}, {"pattern": "spiffe://*"},
                                  {"identity": WEB, "until": 5}])
def test_malformed_revocations_are_400(guarded, keys, body):
    assert admin(guarded, keys, "POST", "/admin/v1/revocations", body)[0] == 400


def test_a_health_listener_serves_probes_and_metrics_but_never_the_admin_api(start_postern, model_server, keys):
    from conftest import free_port
    port = free_port()
    p = start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(),
                      extra=f"functions: {{ inference: {{ callers: ['{TD}/ns/app/*'] }} }}\nhealth: {{ address: 127.0.0.1:{port} }}",
                      admin=f"operators: ['{ONCALL}']")
    for path in ("/healthz", "/readyz", "/metrics"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            assert reply.status == 200
    request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/v1/revocations", method="POST",
                                     data=json.dumps({"identity": WEB}).encode())
    request.add_header("authorization", f"Bearer {mint(keys.svid_key, sub=ONCALL)}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 404
    assert call(p, keys)[0] == 200  # nothing was revoked


def test_operators_see_the_running_configuration_and_ask_what_it_would_do(guarded, keys):
    import hashlib
    status, shown = admin(guarded, keys, "GET", "/admin/v1/config")
    assert status == 200 and shown["sha256"] == hashlib.sha256(guarded.config.read_bytes()).hexdigest()
    assert abs(shown["loaded_at"] - time.time()) < 60
    status, explained = admin(guarded, keys, "POST", "/admin/v1/explain", {"caller": WEB, "method": "GET", "path": "/sse"})
    assert status == 200 and explained["operation"]["function"] == "inference" and explained["decision"]["outcome"] == "allow"
    status, outsider = admin(guarded, keys, "POST", "/admin/v1/explain", {"caller": f"{TD}/ns/other/sa/x", "path": "/sse"})
    assert status == 200 and outsider["decision"]["outcome"] == "deny"
    # A function's caller is not an operator: it learns nothing about the policy.
    assert admin(guarded, keys, "GET", "/admin/v1/config", caller=WEB)[0] == 403
    assert admin(guarded, keys, "POST", "/admin/v1/explain", {"path": "/sse"}, caller=None)[0] == 401


def test_over_tls_an_operator_proves_itself_with_its_x509_svid(start_postern, model_server, keys):
    operator = "spiffe://example.org/ns/prod/sa/client"  # the identity in good.pem
    p = start_postern(upstreams={"model": model_server}, public=False, tls=keys.tls_yaml(), identity=keys.identity_yaml(),
                      extra=f"functions: {{ inference: {{ callers: ['{TD}/ns/app/*'] }} }}\n",
                      admin=f"operators: ['{operator}'], tls: true")
    admin_url = f"https://localhost:{p.admin_port}"
    ca = str(keys.dir / "ca-example.org.pem")

    def call(*args):
        return curl("--cacert", ca, *args)

    # The operator's certificate is its credential: no token needed.
    mine = ["--cert", str(keys.dir / "good.pem"), "--key", str(keys.dir / "good.key")]
    status, _, body = call(*mine, "-H", "content-type: application/json", "--data", json.dumps({"identity": WEB, "reason": "x"}),
                           f"{admin_url}/admin/v1/revocations")
    assert status == 201, body
    # Another workload's certificate verifies, but names no operator; without one, no caller at all.
    other = ["--cert", str(keys.dir / "good-via-intermediate-chain.pem"), "--key", str(keys.dir / "good-via-intermediate.key")]
    assert call(*other, f"{admin_url}/admin/v1/revocations")[0] == 403
    assert call(f"{admin_url}/admin/v1/revocations")[0] == 401
    # The command-line face of the API presents the same certificate.
    listed = subprocess.run([str(POSTERN), "revocations", "list", "--admin", f"localhost:{p.admin_port}", "--ca", ca, *mine],
                            capture_output=True, text=True)
    assert listed.returncode == 0 and WEB in listed.stdout, listed.stdout + listed.stderr
    refused = subprocess.run([str(POSTERN), "revocations", "list", "--admin", f"localhost:{p.admin_port}", "--ca", ca, *other],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "not an operator" in refused.stdout
    # Probes stay open without a credential, over TLS; cleartext is not served on that port.
    assert call(f"{admin_url}/healthz")[0] == 200
    with pytest.raises(RuntimeError):
        curl(f"http://127.0.0.1:{p.admin_port}/healthz")
