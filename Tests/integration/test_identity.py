"""Workload identity on the wire: TLS on OpenSSL, X.509-SVID client certificates, JWT-SVID
and OIDC bearer tokens, with curl, openssl s_client, httpx, grpcio and raw sockets."""
import json
import shutil
import socket
import ssl
import subprocess
import time

import grpc
import httpx
import pytest

from conftest import curl
from identity_material import AUDIENCE, OIDC_ISSUER, Keys, make_svids, mint, unsigned

GRPC_METHOD = "/postern.test.Echo/Unary"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = make_svids(tmp_path_factory.mktemp("identity"))
    return Keys(directory)


@pytest.fixture
def guarded(start_postern, model_server, grpc_server, keys):
    """Postern with TLS, optional client certificates and every token issuer; only the
    health route is public."""
    return start_postern(upstreams={"model": model_server, "grpc": grpc_server},
                         routes=[("/postern.test.Echo/", "grpc", False), ("/v2/health/", "model", True),
                                 ("/", "model", False)],
                         tls=keys.tls_yaml(), identity=keys.identity_yaml())


def tls_curl(p, keys, path, *args, cert=None):
    extra = ["--cacert", str(keys.dir / "ca-example.org.pem")]
    if cert:
        extra += ["--cert", str(keys.dir / f"{cert}.pem"), "--key", str(keys.dir / f"{cert}.key")]
    return curl(*extra, *args, f"{p.url}{path}")


def bearer(token):
    return ["-H", f"authorization: Bearer {token}"]


def error_of(body):
    return json.loads(body)["error"]


def last_log(p, outcome=None, count=1):
    """The last request-log line once there are `count` lines (or the last one with
    `outcome`): lines are written at the end of an event-loop tick, maybe after the reply."""
    entries = p.request_log(entries=count)
    if outcome:
        deadline = time.time() + 5
        while not any(e.get("outcome") == outcome for e in entries) and time.time() < deadline:
            time.sleep(0.05)
            entries = p.request_log(entries=len(entries) + 1)
        entries = [e for e in entries if e.get("outcome") == outcome]
    return entries[-1]


# --- TLS and ALPN -------------------------------------------------------------------

def s_client(p, keys, *args):
    out = subprocess.run(["openssl", "s_client", "-connect", p.target, "-CAfile", str(keys.dir / "ca-example.org.pem"),
                          "-servername", "localhost", *args], input=b"", capture_output=True, timeout=20)
    return out.returncode, out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")


@pytest.mark.parametrize("offer,chosen", [("h2,http/1.1", "h2"), ("http/1.1", "http/1.1"), ("http/1.1,h2", "h2")])
def test_alpn_prefers_h2(guarded, keys, offer, chosen):
    code, text = s_client(guarded, keys, "-alpn", offer)
    assert code == 0 and f"ALPN protocol: {chosen}" in text
    assert "Verify return code: 0 (ok)" in text


def test_alpn_without_a_common_protocol_is_refused(guarded, keys):
    code, text = s_client(guarded, keys, "-alpn", "spdy/3")
    assert code != 0 and "no application protocol" in text
    assert "TLS handshake failed" in last_log(guarded, "tls_refused")["detail"]


def test_tls_versions(start_postern, model_server, keys):
    p = start_postern(upstreams={"model": model_server}, tls=keys.tls_yaml(), identity=keys.identity_yaml())
    assert "New, TLSv1.2, Cipher" in s_client(p, keys, "-tls1_2")[1]
    assert "New, TLSv1.3, Cipher" in s_client(p, keys, "-tls1_3")[1]
    assert s_client(p, keys, "-tls1_1")[0] != 0
    strict = start_postern(upstreams={"model": model_server}, tls=keys.tls_yaml(extra=", min_version: '1.3'"),
                           identity=keys.identity_yaml())
    assert s_client(strict, keys, "-tls1_2")[0] != 0
    assert s_client(strict, keys, "-tls1_3")[0] == 0


def test_cleartext_is_refused_on_a_tls_port_unless_configured(start_postern, model_server, keys):
    p = start_postern(upstreams={"model": model_server}, tls=keys.tls_yaml(), identity=keys.identity_yaml())
    with pytest.raises(RuntimeError):
        curl(f"http://127.0.0.1:{p.port}/v2/health/ready", timeout=15)
    both = start_postern(upstreams={"model": model_server}, tls=keys.tls_yaml(extra=", cleartext: true"),
                         identity=keys.identity_yaml(), public=True)
    assert curl(f"http://127.0.0.1:{both.port}/v2/health/ready")[0] == 200
    assert curl("--http2-prior-knowledge", f"http://127.0.0.1:{both.port}/v2/health/ready")[0] == 200
    assert tls_curl(both, keys, "/v2/health/ready")[0] == 200


# --- X.509-SVIDs ----------------------------------------------------------------------

@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
def test_a_good_svid_is_the_principal(guarded, keys, version):
    status, _, body = tls_curl(guarded, keys, "/v1/models", version, cert="good")
    assert status == 200 and b"quickstart-llm" in body
    entry = last_log(guarded)
    assert entry["principal"] == "spiffe://example.org/ns/prod/sa/client"
    assert entry["auth"] == "mtls" and entry["trust_domain"] == "example.org" and entry["credential_id"]


def test_an_svid_through_an_intermediate_and_from_a_federated_domain(guarded, keys):
    status, _, _ = curl("--cacert", str(keys.dir / "ca-example.org.pem"),
                        "--cert", str(keys.dir / "good-via-intermediate-chain.pem"),
                        "--key", str(keys.dir / "good-via-intermediate.key"), f"{guarded.url}/v1/models")
    assert status == 200 and last_log(guarded)["principal"] == "spiffe://example.org/ns/prod/sa/batch"
    assert tls_curl(guarded, keys, "/v1/models", cert="other-good")[0] == 200
    assert last_log(guarded, count=2)["trust_domain"] == "other.org"


@pytest.mark.parametrize("cert,reason", [
    ("ca-as-leaf", "is a CA"),
    ("can-sign", "keyCertSign"),
    ("two-uris", "exactly one URI SAN, this certificate has 2"),
    ("no-uri", "exactly one URI SAN, this certificate has 0"),
    ("root-id", "workload's SPIFFE ID has a path"),
    ("wrong-trust-domain", "does not verify against its trust domain's bundle"),
    ("expired", "certificate has expired"),
    ("long-lived", "standing credential"),
])
def test_a_bad_svid_fails_the_handshake_with_its_reason(guarded, keys, cert, reason):
    with pytest.raises(RuntimeError):
        tls_curl(guarded, keys, "/v1/models", cert=cert)
    detail = last_log(guarded, "tls_refused")["detail"]
    assert detail.startswith("client certificate refused") and reason in detail
    # Postern keeps serving.
    assert tls_curl(guarded, keys, "/v2/health/ready")[0] == 200


@pytest.mark.parametrize("cert,alert", [("expired", "CERTIFICATE_EXPIRED"), ("wrong-trust-domain", "UNKNOWN_CA"),
                                        ("two-uris", "BAD_CERTIFICATE")])
def test_a_refused_svid_gets_the_matching_tls_alert(guarded, keys, cert, alert):
    context = ssl.create_default_context(cafile=str(keys.dir / "ca-example.org.pem"))
    context.load_cert_chain(str(keys.dir / f"{cert}.pem"), str(keys.dir / f"{cert}.key"))
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            # TLS 1.3: the client finishes first; the server's verdict arrives as an alert.
            with pytest.raises(ssl.SSLError) as refused:
                tls.recv(1)
    assert alert in str(refused.value)


def test_required_client_certificates(start_postern, model_server, keys):
    p = start_postern(upstreams={"model": model_server}, tls=keys.tls_yaml("required"),
                      identity=keys.identity_yaml(), public=True)
    with pytest.raises(RuntimeError):
        tls_curl(p, keys, "/v2/health/ready")
    assert "certificate" in last_log(p, "tls_refused")["detail"]
    assert tls_curl(p, keys, "/v2/health/ready", cert="good")[0] == 200


def test_python_ssl_client_with_an_svid(guarded, keys):
    context = ssl.create_default_context(cafile=str(keys.dir / "ca-example.org.pem"))
    context.load_cert_chain(str(keys.dir / "good.pem"), str(keys.dir / "good.key"))
    with httpx.Client(verify=context, http2=True) as client:
        response = client.get(f"{guarded.url}/v1/models")
    assert response.status_code == 200 and response.http_version == "HTTP/2"


# --- bearer tokens ----------------------------------------------------------------------

def test_no_credential_is_401_except_on_a_public_route(guarded, keys):
    status, headers, body = tls_curl(guarded, keys, "/v1/models")
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert error_of(body)["code"] == "unauthenticated" and "no credential" in error_of(body)["message"]
    assert tls_curl(guarded, keys, "/v2/health/ready")[0] == 200


def test_unknown_routes_are_401_to_strangers_and_404_to_callers(start_postern, model_server, keys):
    p = start_postern(upstreams={"model": model_server}, routes=[("/v1/", "model", False)],
                      tls=keys.tls_yaml(), identity=keys.identity_yaml())
    assert tls_curl(p, keys, "/admin/secret")[0] == 401
    status, _, body = tls_curl(p, keys, "/admin/secret", cert="good")
    assert status == 404 and error_of(body)["code"] == "no_route"


def test_a_jwt_svid_is_the_principal_and_never_reaches_the_upstream(guarded, keys):
    token = mint(keys.svid_key)
    status, _, body = tls_curl(guarded, keys, "/headers", *bearer(token), "-H", "x-postern-principal: admin",
                               "-H", "x-forwarded-client-cert: By=spiffe://example.org/admin")
    assert status == 200
    seen = json.loads(body)
    assert "authorization" not in seen and "x-postern-principal" not in seen
    assert "x-forwarded-client-cert" not in seen
    entry = last_log(guarded)
    assert entry["principal"] == "spiffe://example.org/ns/app/sa/web" and entry["auth"] == "jwt-svid"
    assert token not in json.dumps(entry)


def test_a_token_from_spiffe_helpers_bundle_file(guarded, keys):
    token = mint(keys.other_key, kid="o1", alg="ES384", sub="spiffe://other.org/ns/batch/sa/job")
    assert tls_curl(guarded, keys, "/v1/models", *bearer(token))[0] == 200
    assert last_log(guarded)["trust_domain"] == "other.org"


def test_an_oidc_token_names_the_caller_by_the_configured_claim(guarded, keys):
    token = mint(keys.oidc_key, kid="idp-1", alg="RS256", sub="user-42", aud="postern", iss=OIDC_ISSUER,
                 email="ana@example.test")
    assert tls_curl(guarded, keys, "/v1/models", *bearer(token))[0] == 200
    entry = last_log(guarded)
    assert entry["principal"] == "ana@example.test" and entry["auth"] == "oidc" and entry["issuer"] == OIDC_ISSUER


def refusals(keys):
    now = int(time.time())
    claims = {"sub": "spiffe://example.org/ns/app/sa/web", "aud": AUDIENCE, "iat": now, "exp": now + 300}
    return [
        ("none", unsigned(claims, "none"), "algorithm 'none' is refused"),
        ("hs256", unsigned(claims, "HS256"), "algorithm 'HS256' is refused"),
        ("long-lived", mint(keys.svid_key, lifetime=30 * 86400), "standing credential"),
        ("no-exp", mint(keys.svid_key, lifetime=None), "no expiry"),
        ("expired", mint(keys.svid_key, issued=now - 600, lifetime=300), "expired"),
        ("future", mint(keys.svid_key, issued=now + 600), "in the future"),
        ("audience", mint(keys.svid_key, aud="spiffe://example.org/other"), "not for audience"),
        ("domain", mint(keys.svid_key, sub="spiffe://evil.org/ns/x"), "trust domain 'evil.org' is not trusted"),
        ("kid", mint(keys.svid_key, kid="k9"), "no key 'k9'"),
        ("stranger", mint(keys.stranger), "signature does not verify"),
        ("not-spiffe", mint(keys.svid_key, sub="web"), "not a workload SPIFFE ID"),
        ("oidc-issuer", mint(keys.oidc_key, kid="idp-1", alg="RS256", aud="postern", iss="https://evil.test",
                             sub="spiffe://example.org/x", email="x"), "no key 'idp-1'"),
        ("garbage", "not-a-token", "not a JWS"),
    ]


@pytest.mark.parametrize("case", range(13))
def test_every_refused_token_gets_401_with_its_reason(guarded, keys, case):
    name, token, reason = refusals(keys)[case]
    status, _, body = tls_curl(guarded, keys, "/v1/models", *bearer(token), cert="good")
    assert status == 401, name
    assert reason in error_of(body)["message"], (name, error_of(body)["message"])
    entry = last_log(guarded, "unauthenticated")
    assert reason in entry["detail"] and "principal" not in entry


@pytest.mark.parametrize("header,reason", [
    ("authorization: Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
    ("authorization: sk-live-1234567890", "must be 'Bearer <token>'"),
    ("authorization: Bearer", "must be 'Bearer <token>'"),
])
def test_other_schemes_are_refused(guarded, keys, header, reason):
    status, _, body = tls_curl(guarded, keys, "/v1/models", "-H", header)
    assert status == 401 and reason in error_of(body)["message"]


def test_two_authorization_headers_are_refused(guarded, keys):
    token = mint(keys.svid_key)
    status, _, body = tls_curl(guarded, keys, "/v1/models", *bearer(token), *bearer(token))
    assert status == 401 and "more than one" in error_of(body)["message"]


def test_grpc_over_tls_with_svid_and_token(guarded, keys):
    root = (keys.dir / "ca-example.org.pem").read_bytes()
    options = [("grpc.ssl_target_name_override", "localhost")]
    anonymous = grpc.secure_channel(guarded.target, grpc.ssl_channel_credentials(root), options=options)
    with pytest.raises(grpc.RpcError) as refused:
        anonymous.unary_unary(GRPC_METHOD)(b"hi", timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "no credential" in refused.value.details()
    with pytest.raises(grpc.RpcError) as refused:
        anonymous.unary_unary(GRPC_METHOD)(b"hi", timeout=10,
                                           metadata=[("authorization", f"Bearer {mint(keys.svid_key, lifetime=None)}")])
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "no expiry" in refused.value.details()
    reply = anonymous.unary_unary(GRPC_METHOD)(b"hi", timeout=10,
                                               metadata=[("authorization", f"Bearer {mint(keys.svid_key)}")])
    assert reply == b"hi"
    mutual = grpc.ssl_channel_credentials(root, (keys.dir / "good.key").read_bytes(), (keys.dir / "good.pem").read_bytes())
    assert grpc.secure_channel(guarded.target, mutual, options=options).unary_unary(GRPC_METHOD)(b"yo", timeout=10) == b"yo"
    assert last_log(guarded, count=4)["auth"] == "mtls"


# --- reloading credential files ---------------------------------------------------------

def wait_for(predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_jwks_reload_applies_new_keys_and_keeps_the_old_set_when_torn(start_postern, model_server, keys, tmp_path):
    from identity_material import jwk, write_jwks
    from cryptography.hazmat.primitives.asymmetric import ec
    local = Keys.__new__(Keys)
    local.__dict__.update(keys.__dict__)
    local.svid_jwks = tmp_path / "rotating.jwks"
    shutil.copy(keys.svid_jwks, local.svid_jwks)
    p = start_postern(upstreams={"model": model_server}, tls=local.tls_yaml(), identity=local.identity_yaml())
    old = mint(keys.svid_key)
    assert tls_curl(p, keys, "/v1/models", *bearer(old))[0] == 200
    # A torn write: the previous keys stay in use and the log says why.
    local.svid_jwks.write_text('{"keys": [')
    assert wait_for(lambda: "credential reload failed" in p.stderr_path.read_text())
    assert tls_curl(p, keys, "/v1/models", *bearer(mint(keys.svid_key)))[0] == 200
    # Rotation: a new key replaces the old one, without a restart and on the same connection.
    rotated = ec.generate_private_key(ec.SECP256R1())
    write_jwks(local.svid_jwks, [jwk(rotated, "k2")])
    assert wait_for(lambda: "credentials reloaded" in p.stderr_path.read_text())
    assert tls_curl(p, keys, "/v1/models", *bearer(mint(rotated, kid="k2")))[0] == 200
    status, _, body = tls_curl(p, keys, "/v1/models", *bearer(old))
    assert status == 401 and "no key 'k1'" in error_of(body)["message"]


def test_certificate_reload_keeps_open_connections(start_postern, model_server, keys, tmp_path):
    for name in ("server.pem", "server-pkcs8.key"):
        shutil.copy(keys.dir / name, tmp_path / name)
    tls = (f"{{ certificate: {tmp_path / 'server.pem'}, private_key: {tmp_path / 'server-pkcs8.key'}, "
           "client_certificates: optional }")
    p = start_postern(upstreams={"model": model_server}, tls=tls, identity=keys.identity_yaml(), public=True)
    context = ssl.create_default_context(cafile=str(keys.dir / "ca-example.org.pem"))
    with httpx.Client(verify=context, http2=True) as client:
        assert client.get(f"{p.url}/v2/health/ready").status_code == 200
        # A key that does not match the certificate is refused; the old pair stays.
        shutil.copy(keys.dir / "good.key", tmp_path / "server-pkcs8.key")
        assert wait_for(lambda: "does not match the certificate" in p.stderr_path.read_text())
        assert client.get(f"{p.url}/v2/health/ready").status_code == 200
        # An expired certificate (with its own key) does not chain: refused, the old pair stays.
        shutil.copy(keys.dir / "expired.pem", tmp_path / "server.pem")
        shutil.copy(keys.dir / "expired.key", tmp_path / "server-pkcs8.key")
        assert wait_for(lambda: "certificate has expired" in p.stderr_path.read_text())
        assert client.get(f"{p.url}/v2/health/ready").status_code == 200
        # A whole new pair (the 'other-good' SVID's) is taken by new connections.
        shutil.copy(keys.dir / "other-good.pem", tmp_path / "server.pem")
        shutil.copy(keys.dir / "other-good.key", tmp_path / "server-pkcs8.key")
        assert wait_for(lambda: "credentials reloaded" in p.stderr_path.read_text())
        assert client.get(f"{p.url}/v2/health/ready").status_code == 200  # the open connection
    code, text = s_client(p, keys, "-CAfile", str(keys.dir / "ca-other.org.pem"))
    assert "CN = other-good" in text


def test_token_command_explains_a_token(keys, tmp_path):
    from conftest import POSTERN
    config = tmp_path / "p.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\n"
                      f"listen: {{ tls: {keys.tls_yaml()} }}\nidentity: {keys.identity_yaml()}\n")
    ok = subprocess.run([str(POSTERN), "token", "--config", str(config)], input=mint(keys.svid_key) + "\n",
                        capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["principal"] == "spiffe://example.org/ns/app/sa/web"
    refused = subprocess.run([str(POSTERN), "token", "--config", str(config)],
                             input=mint(keys.svid_key, lifetime=86400), capture_output=True, text=True)
    assert refused.returncode == 1 and "standing credential" in refused.stderr


def test_garbage_and_truncated_handshakes_do_not_hurt(guarded, keys):
    import random
    rng = random.Random(7)
    hello = subprocess.run(["openssl", "s_client", "-connect", guarded.target, "-msg"], input=b"",
                           capture_output=True, timeout=20)
    assert hello.returncode == 0
    for attempt in range(30):
        with socket.create_connection(("127.0.0.1", guarded.port), timeout=5) as s:
            if attempt % 3 == 0:
                payload = bytes([0x16, 0x03, 0x01]) + rng.randbytes(rng.randint(0, 600))
            elif attempt % 3 == 1:
                payload = rng.randbytes(rng.randint(1, 2000))
            else:  # a plausible record header announcing more than arrives, then a close
                payload = bytes([0x16, 0x03, 0x03, 0x40, 0x00]) + rng.randbytes(100)
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    assert guarded.alive()
    assert tls_curl(guarded, keys, "/v1/models", cert="good")[0] == 200
