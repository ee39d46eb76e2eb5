"""Approvals, grants and revocations in a shared store: two sidecars on one SQLite file or
one PostgreSQL database see each other's approvals, decisions and revocations within the
bound, a restarted sidecar keeps what was decided before it went, and a store that goes
away leaves the last snapshot enforced until it returns."""
import json
import os
import time

import pytest

from conftest import RUN_UNPRIVILEGED, UNPRIVILEGED_UID, curl
from postgres_server import PostgresServer
from identity_material import mint
from test_approvals import ALICE, DEPLOYER, OPS, POLICY, admin, approval_id, load

WEB = "spiffe://example.org/ns/app/sa/web"


def state_dir(tmp_path):
    """A directory Postern's user may write, as a volume mounted for the store would be."""
    directory = tmp_path / "state"
    directory.mkdir()
    if RUN_UNPRIVILEGED:
        os.chown(directory, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    return directory / "postern.sqlite"


def sidecar(start_postern, model_server, keys, path, store=None, pending_ttl="2s"):
    policy = POLICY.replace("pending_ttl: 2s", f"pending_ttl: {pending_ttl}")
    policy = policy.replace("functions:\n", f"functions:\n  inference: {{ callers: ['spiffe://example.org/ns/app/*'] }}\n")
    policy = policy.replace("operations: [", "operations: [{ methods: [GET], path: /v1/models, function: inference, name: list }, ", 1)
    return start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(),
                         extra=policy + f"store: {store or f'{{ url: sqlite://{path}, poll_interval: 100ms }}'}\n",
                         admin=f"operators: ['{OPS}']")


def models(p, token):
    """The status of a call by `token`; None for one cut short (the revocation arrived
    while it was in flight, which ends it)."""
    try:
        return curl("-H", f"authorization: Bearer {token}", f"{p.url}/v1/models")[0]
    except RuntimeError:
        return None


def eventually(check, within=2.0):
    """How long `check` took to hold (it must within `within` seconds)."""
    started = time.time()
    while not check():
        assert time.time() - started < within, "not within the bound"
        time.sleep(0.02)
    return time.time() - started


def test_two_sidecars_on_one_store_share_approvals_grants_and_revocations(start_postern, model_server, keys, tmp_path):
    store = state_dir(tmp_path)
    a = sidecar(start_postern, model_server, keys, store)
    b = sidecar(start_postern, model_server, keys, store)
    body = '{"model": "llama-3-8b"}'
    status, reply = load(a, keys, body)
    assert status == 403
    pending = approval_id(reply)
    # Asked on a, listed and decided on b.
    eventually(lambda: admin(b, keys, "GET", f"/admin/v1/approvals/{pending}")[0] == 200)
    status, decided = admin(b, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {"reason": "ok"})
    assert status == 200 and decided["state"] == "approved"
    # The grant admits the request on a, once; then b knows it is used up.
    eventually(lambda: admin(a, keys, "GET", f"/admin/v1/approvals/{pending}")[1].get("state") == "approved")
    assert load(a, keys, body) == (200, body.encode())
    eventually(lambda: load(b, keys, body)[0] == 403)
    # A revocation made on a stops the caller on b within 2 s.
    token = mint(keys.svid_key, sub=WEB)
    assert curl("-H", f"authorization: Bearer {token}", f"{b.url}/v1/models")[0] == 200
    status, _ = admin(a, keys, "POST", "/admin/v1/revocations", {"identity": WEB, "reason": "leaked"}, caller=OPS)
    assert status == 201
    took = eventually(lambda: models(b, token) == 403)
    assert took < 2.0
    metrics = curl(f"{b.admin}/metrics")[2].decode()
    assert "postern_store_up 1" in metrics


def test_a_restarted_sidecar_keeps_its_grants_and_revocations(start_postern, model_server, keys, tmp_path):
    store = state_dir(tmp_path)
    first = sidecar(start_postern, model_server, keys, store)
    body = '{"model": "mistral"}'
    pending = approval_id(load(first, keys, body)[1])
    assert admin(first, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
    assert admin(first, keys, "POST", "/admin/v1/revocations", {"identity": WEB, "reason": "x"}, caller=OPS)[0] == 201
    first.stop()
    again = sidecar(start_postern, model_server, keys, store)
    assert load(again, keys, body) == (200, body.encode())  # the grant made before the restart
    token = mint(keys.svid_key, sub=WEB)
    assert curl("-H", f"authorization: Bearer {token}", f"{again.url}/v1/models")[0] == 403
    status, listed = admin(again, keys, "GET", "/admin/v1/revocations", caller=OPS)
    assert status == 200 and [r["identity"] for r in listed["revocations"]] == [WEB]


@pytest.fixture
def postgres(tmp_path):
    server = PostgresServer(tmp_path / "postgres")
    yield server
    server.stop()


def pg_sidecar(start_postern, model_server, keys, postgres, pending_ttl="2s"):
    return sidecar(start_postern, model_server, keys, None, pending_ttl=pending_ttl,
                   store=f"{{ url: '{postgres.url}', password_file: {postgres.password_file}, poll_interval: 1s }}")


def test_two_sidecars_on_postgresql_see_each_others_revocations_within_two_seconds(start_postern, model_server, keys,
                                                                                  postgres):
    a = pg_sidecar(start_postern, model_server, keys, postgres)
    b = pg_sidecar(start_postern, model_server, keys, postgres)
    body = '{"model": "llama-3-8b"}'
    pending = approval_id(load(a, keys, body)[1])
    eventually(lambda: admin(b, keys, "GET", f"/admin/v1/approvals/{pending}")[0] == 200)
    assert admin(b, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
    eventually(lambda: load(a, keys, body) == (200, body.encode()))
    # Revocations made on one sidecar reach the other by NOTIFY, well inside the poll interval.
    token = mint(keys.svid_key, sub=WEB)
    took = []
    for round in range(5):
        assert models(b, token) == 200
        status, made = admin(a, keys, "POST", "/admin/v1/revocations", {"identity": WEB, "reason": f"r{round}"}, caller=OPS)
        assert status == 201
        took.append(eventually(lambda: models(b, token) == 403))
        assert admin(a, keys, "DELETE", f"/admin/v1/revocations/{made['id']}", caller=OPS)[0] == 200
        eventually(lambda: models(b, token) == 200)
    assert max(took) < 2.0, took
    print(f"revocation propagation over PostgreSQL: p50 {sorted(took)[2] * 1000:.0f} ms, max {max(took) * 1000:.0f} ms")
    rows = postgres.psql("postern", "SELECT count(*) FROM postern_journal", user="postern", password=postgres.PASSWORD)
    assert int(rows) >= 12


def test_a_store_that_goes_away_keeps_the_snapshot_enforced_and_catches_up(start_postern, model_server, keys, postgres):
    # Long enough for the approval asked before the outage to be still pending when it is
    # decided during it (a 2 s one could expire first on a busy machine: 409, not 503).
    a = pg_sidecar(start_postern, model_server, keys, postgres, pending_ttl="60s")
    body = '{"model": "mistral"}'
    pending = approval_id(load(a, keys, body)[1])
    assert admin(a, keys, "POST", "/admin/v1/revocations", {"identity": WEB, "reason": "x"}, caller=OPS)[0] == 201
    token = mint(keys.svid_key, sub=WEB)
    postgres.stop()
    eventually(lambda: "postern_store_up 0" in curl(f"{a.admin}/metrics")[2].decode(), within=5)
    # Still enforced: the revocation holds; nothing new is opened or decided.
    assert models(a, token) == 403
    status, reply = load(a, keys, '{"model": "other"}')
    assert status == 503 and json.loads(reply)["error"]["code"] == "approval_store_unavailable"
    status, refused = admin(a, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})
    assert status == 503 and refused["error"]["code"] == "store_unavailable"
    ready = json.loads(curl(f"{a.admin}/readyz")[2])
    assert ready["status"] == "ready" and "approvals store" in ready["degraded"][0]
    # Back: it catches up by itself; the approval asked before is decided now, and new
    # ones are opened and decided again.
    postgres.start()
    eventually(lambda: "postern_store_up 1" in curl(f"{a.admin}/metrics")[2].decode(), within=10)
    assert admin(a, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
    assert load(a, keys, body) == (200, body.encode())
    other = '{"model": "third"}'
    fresh = approval_id(load(a, keys, other)[1])
    assert fresh != pending
    assert admin(a, keys, "POST", f"/admin/v1/approvals/{fresh}/approve", {})[0] == 200
    assert load(a, keys, other) == (200, other.encode())
    assert models(a, token) == 403  # the revocation made before the outage still holds


def test_tls_to_postgresql_checks_the_servers_certificate(start_postern, model_server, keys, tmp_path):
    from test_audit_export import make_server_certificate
    ca, cert, key = make_server_certificate(tmp_path / "tls")
    other_ca, _, _ = make_server_certificate(tmp_path / "other")
    server = PostgresServer(tmp_path / "postgres", tls=(cert, key))
    try:
        url = server.url.replace("127.0.0.1", "localhost")
        store = f"{{ url: '{url}', password_file: {server.password_file}, ca: {ca} }}"
        p = sidecar(start_postern, model_server, keys, None, store=store)
        pending = approval_id(load(p, keys, '{"model": "a"}')[1])
        assert admin(p, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
        ssl = server.psql("postern", "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                          "WHERE ssl AND application_name = 'postern'", user="postern", password=server.PASSWORD)
        assert int(ssl) >= 1  # Postern's connections are the TLS ones
        # A server whose certificate another CA signed is not the store: Postern waits, not ready.
        wrong = f"{{ url: '{url}', password_file: {server.password_file}, ca: {other_ca} }}"
        with pytest.raises(RuntimeError, match=r"did not start(.|\n)*waiting for the approvals store(.|\n)*TLS") as refused:
            sidecar(start_postern, model_server, keys, None, store=wrong)
        assert "certificate" in str(refused.value), str(refused.value)
    finally:
        server.stop()


def test_without_a_store_url_the_state_directory_holds_an_sqlite_store(start_postern, model_server, keys, tmp_path,
                                                                        monkeypatch):
    state = state_dir(tmp_path).parent
    monkeypatch.setenv("POSTERN_STATE_DIR", str(state))
    policy = POLICY
    first = start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(), extra=policy,
                          admin=f"operators: ['{OPS}']")
    body = '{"model": "phi"}'
    pending = approval_id(load(first, keys, body)[1])
    assert admin(first, keys, "POST", f"/admin/v1/approvals/{pending}/approve", {})[0] == 200
    first.stop()
    assert (state / "state.sqlite").exists()
    again = start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(), extra=policy,
                          admin=f"operators: ['{OPS}']")
    assert load(again, keys, body) == (200, body.encode())  # the grant outlived the restart
    # Without a writable state directory, memory, and the log says so.
    monkeypatch.setenv("POSTERN_STATE_DIR", str(tmp_path / "missing"))
    volatile = start_postern(upstreams={"model": model_server}, public=False, identity=keys.jwt_svid_yaml(), extra=policy,
                             admin=f"operators: ['{OPS}']")
    assert "kept in memory" in volatile.stderr_path.read_text()
