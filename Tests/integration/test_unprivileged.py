"""Postern as the chart runs it: UID 65532, no capabilities. Every wire test already runs it
so when the suite runs as root; these tests say so explicitly and check each protocol,
with an upstream connection behind each answer, and that readiness tells the truth."""
import json
from pathlib import Path

import grpc
import pytest

from conftest import RUN_UNPRIVILEGED, UNPRIVILEGED_UID, curl, get_json
from identity_material import mint

pytestmark = pytest.mark.skipif(not RUN_UNPRIVILEGED, reason="needs root to switch to an unprivileged user")


def process_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return fields


def assert_unprivileged(p):
    status = process_status(p.proc.pid)
    assert status["Uid"][:2] == [str(UNPRIVILEGED_UID)] * 2
    assert status["Gid"][:2] == [str(UNPRIVILEGED_UID)] * 2
    assert status["Groups"] == []
    assert int(status["CapEff"][0], 16) == 0 and int(status["CapPrm"][0], 16) == 0


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_cleartext_callers_are_served(start_postern, model_server, grpc_server, protocol):
    p = start_postern(upstreams={"model": model_server, "grpc": grpc_server},
                      routes=[("/postern.test.Echo/", "grpc"), ("/", "model")])
    assert_unprivileged(p)
    status, _, body = curl(*protocol, f"{p.url}/v1/models")
    assert status == 200 and json.loads(body)["data"]
    assert grpc.insecure_channel(p.target).unary_unary("/postern.test.Echo/Unary")(b"ping", timeout=10) == b"ping"
    assert get_json(p.admin + "/readyz") == (200, {"status": "ready"})


@pytest.mark.parametrize("protocol", [["--http1.1"], ["--http2"]], ids=["http1-tls", "h2-tls"])
def test_tls_callers_are_served(start_postern, model_server, grpc_server, keys, protocol):
    p = start_postern(upstreams={"model": model_server, "grpc": grpc_server},
                      routes=[("/postern.test.Echo/", "grpc", False), ("/", "model", False)],
                      tls=keys.tls_yaml(), identity=keys.identity_yaml())
    assert_unprivileged(p)
    status, headers, body = curl(*protocol, "--cacert", str(keys.dir / "ca-example.org.pem"),
                                 "--cert", str(keys.dir / "good.pem"), "--key", str(keys.dir / "good.key"),
                                 f"{p.url}/v1/models")
    assert status == 200 and json.loads(body)["data"]
    root = (keys.dir / "ca-example.org.pem").read_bytes()
    channel = grpc.secure_channel(p.target, grpc.ssl_channel_credentials(root),
                                  options=[("grpc.ssl_target_name_override", "localhost")])
    reply = channel.unary_unary("/postern.test.Echo/Unary")(
        b"ping", timeout=10, metadata=[("authorization", f"Bearer {mint(keys.svid_key)}")])
    assert reply == b"ping"
    assert get_json(p.admin + "/readyz") == (200, {"status": "ready"})
    principals = {entry.get("principal") for entry in p.request_log(entries=2)}
    assert "spiffe://example.org/ns/app/sa/web" in principals
