"""No identity claim from a caller reaches the model server: the built-in families of
widespread proxies and clouds, the operator's own additions, and the address fields, which
Postern replaces with what it saw. Optionally Postern names the verified caller itself."""
import json

import pytest

from conftest import curl
from identity_material import Keys, make_svids, mint

# One or more members of every family a proxy, cloud or framework would have set. (A caller's
# `authorization` is verified, so it is sent, and checked, only where it holds a real token.)
CLAIMS = {
    "proxy-authorization": "Basic YTpi", "cookie": "session=admin",
    "x-api-key": "sk-standing", "api-key": "azure-key",
    "x-forwarded-user": "admin", "x-forwarded-email": "admin@corp", "x-forwarded-groups": "admins",
    "x-forwarded-preferred-username": "admin", "x-forwarded-access-token": "t", "x-forwarded-host": "evil",
    "x-forwarded-prefix": "/admin", "x-forwarded-client-cert": "By=spiffe://example.org/admin",
    "x-auth-request-user": "admin", "x-auth-request-groups": "admins", "gap-auth": "admin",
    "x-remote-user": "admin", "x-remote-group": "system:masters", "remote-user": "admin",
    "x-envoy-peer-metadata": "x", "x-envoy-original-path": "/admin", "x-istio-attributes": "x",
    "x-pomerium-jwt-assertion": "x", "x-pomerium-claim-email": "admin@corp",
    "x-amzn-oidc-data": "x", "x-amzn-oidc-identity": "admin", "x-amzn-mtls-clientcert": "x",
    "x-apigateway-api-userinfo": "x",
    "x-goog-authenticated-user-email": "accounts.google.com:admin@corp", "x-goog-iap-jwt-assertion": "x",
    "x-ms-client-principal": "e30=", "x-ms-client-principal-name": "admin", "x-ms-token-aad-id-token": "x",
    "x-arr-clientcert": "x",
    "cf-access-jwt-assertion": "x", "cf-access-authenticated-user-email": "admin@corp",
    "x-ssl-client-s-dn": "CN=admin", "ssl-client-cert": "x", "x-client-cert": "x",
    "x-original-url": "/admin", "x-rewrite-url": "/admin", "x-http-method-override": "DELETE",
    "x-real-ip": "10.9.9.9", "true-client-ip": "10.9.9.9", "cf-connecting-ip": "10.9.9.9",
    "x-postern-caller": "spiffe://example.org/ns/admin/sa/root",
}
FORGED_ADDRESS = {"x-forwarded-for": "10.9.9.9", "forwarded": "for=10.9.9.9;proto=https",
                  "x-forwarded-proto": "https"}


def headers_seen(p, *args, protocol=()):
    flags = []
    for name, value in {**CLAIMS, **FORGED_ADDRESS}.items():
        flags += ["-H", f"{name}: {value}"]
    status, _, body = curl(*protocol, *flags, "-H", "x-trace-tag: kept", *args, f"{p.url}/headers")
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_identity_and_address_claims_stop_at_postern(postern, protocol):
    seen = headers_seen(postern, protocol=protocol)
    assert not set(CLAIMS) & set(seen), set(CLAIMS) & set(seen)
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["forwarded"] == "for=127.0.0.1;proto=http"
    assert seen["x-trace-tag"] == "kept"


def test_the_configuration_adds_names_and_prefixes(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server},
                      extra="forwarding: { drop_headers: [x-corp-user, 'x-corp-auth-*'] }")
    seen = headers_seen(p, "-H", "x-corp-user: admin", "-H", "x-corp-auth-role: root", "-H", "x-corp-team: ml")
    assert "x-corp-user" not in seen and "x-corp-auth-role" not in seen
    assert seen["x-corp-team"] == "ml"


def test_postern_names_the_verified_caller_when_asked(start_postern, model_server, tmp_path):
    keys = Keys(make_svids(tmp_path / "spiffe"))
    p = start_postern(upstreams={"model": model_server}, routes=[("/", "model", False)],
                      tls=keys.tls_yaml(), identity=keys.identity_yaml(),
                      extra="forwarding: { caller_header: x-caller-id }")
    ca = ["--cacert", str(keys.dir / "ca-example.org.pem")]
    seen = headers_seen(p, *ca, "-H", f"authorization: Bearer {mint(keys.svid_key)}",
                        "-H", "x-caller-id: spiffe://example.org/ns/admin/sa/root")
    assert seen["x-caller-id"] == "spiffe://example.org/ns/app/sa/web"
    assert seen["x-forwarded-proto"] == "https" and seen["forwarded"] == "for=127.0.0.1;proto=https"
    assert not set(CLAIMS) & set(seen) and "authorization" not in seen


def test_without_a_caller_header_none_is_invented(postern):
    seen = headers_seen(postern)
    assert not any(name.startswith("x-postern") for name in seen)


def test_bad_drop_patterns_are_configuration_errors(tmp_path):
    import subprocess
    from conftest import POSTERN
    config = tmp_path / "c.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\n"
                      "forwarding: { drop_headers: ['X-Upper', '*', 'a*b'], caller_header: 'x-*' }\n")
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True)
    assert out.returncode == 1
    for key in ["forwarding.drop_headers[0]", "forwarding.drop_headers[1]", "forwarding.drop_headers[2]",
                "forwarding.caller_header"]:
        assert key in out.stderr, out.stderr
