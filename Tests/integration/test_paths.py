"""Paths are classified as the model server reads them: dot segments in every spelling,
encoded separators, path parameters, case, doubled slashes, fragments and non-origin
targets never reach a route they do not belong to, over HTTP/1.1, HTTP/2 and gRPC."""
import json
import socket

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

from conftest import curl

# The public health prefix sits in front of private routes, as in a real deployment.
ROUTES = [("/v2/health/", "model", True), ("/postern.test.Echo/", "grpc", False), ("/", "model", False)]


@pytest.fixture
def guarded(start_postern, model_server, grpc_server):
    return start_postern(upstreams={"model": model_server, "grpc": grpc_server}, routes=ROUTES)


def http1(port, target, method="GET"):
    """Sends `target` byte for byte (curl would normalise it) and returns (status, body)."""
    request = f"{method} {target} HTTP/1.1\r\nHost: model\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def h2_request(port, path):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, validate_outbound_headers=False,
                                                               normalize_outbound_headers=False))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "model")],
                      end_stream=True)
    status, body = None, b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(conn.data_to_send())
        done = False
        while not done:
            data = s.recv(65536)
            assert data, "connection closed"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(len(event.data), 1)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            s.sendall(conn.data_to_send())
    return status, body


# Each of these reaches the private /v1/models when read as servers read it: never anonymous.
BYPASSES = [
    "/v2/health/../../v1/models",
    "/v2/health/%2e%2e/%2E%2E/v1/models",
    "/v2/health/.%2e/.%2e/v1/models",
    "/v2/health/..%2f..%2fv1/models",
    "/v2/health/..%2F..%2Fv1/models",
    "/v2/health/..%5c..%5cv1/models",
    "/v2/health/..;/..;/v1/models",
    "/v2/health;/../../v1/models",
    "/v2/health/%252e%252e/%252e%252e/v1/models",
    "/v2/health//..//..//v1/models",
    "/v2/health/../../v1/models#x",
    "http://model/v2/health/../../v1/models",
    "/v2/healthz/../../v1/models",
]


@pytest.mark.parametrize("target", BYPASSES)
def test_a_public_prefix_does_not_lead_to_a_private_route_over_http1(guarded, target):
    status, body = http1(guarded.port, target)
    assert status in (400, 401), body
    assert b"models" not in body or b"error" in body


@pytest.mark.parametrize("target", [t for t in BYPASSES if t.startswith("/") and "#" not in t])
def test_a_public_prefix_does_not_lead_to_a_private_route_over_h2c(guarded, target):
    status, body = h2_request(guarded.port, target)
    assert status in (400, 401), body


def test_the_request_log_names_the_refusal(guarded):
    http1(guarded.port, "/v2/health/..%2f..%2fv1/models")
    entry = guarded.request_log(entries=1)[-1]
    assert entry["status"] == 400 and entry["outcome"] == "bad_path" and "encoded" in entry["detail"]


@pytest.mark.parametrize("target,seen", [
    ("/v2/health/./ready", "/v2/health/ready"),
    ("//v2//health///ready", "/v2/health/ready"),
    ("/v2/%68ealth/ready", "/v2/health/ready"),
    ("/v2/health/x/../ready", "/v2/health/ready"),
    ("http://model/v2/health/ready", "/v2/health/ready"),  # its authority agrees with Host
])
def test_the_normalised_path_is_what_the_model_server_sees(guarded, target, seen):
    status, body = http1(guarded.port, target)
    assert status == 200 and json.loads(body) == {"ready": True}, (target, body)


def test_prefixes_match_whole_segments_in_any_case(guarded):
    # /v2/healthz is not under /v2/health/: private.
    assert http1(guarded.port, "/v2/healthz")[0] == 401
    # /v2/health is covered by /v2/health/ (public), and reaches the server as sent.
    status, body = http1(guarded.port, "/v2/health")
    assert status == 404 and json.loads(body)["path"] == "/v2/health"
    # Another spelling of a public prefix is still that route, and is forwarded as written.
    status, body = http1(guarded.port, "/V2/Health/ready")
    assert status == 404 and json.loads(body)["path"] == "/V2/Health/ready"


@pytest.mark.parametrize("target", ["*", "model:443", "/v1/models#top"])
def test_targets_that_are_not_paths_are_refused(guarded, target):
    status, body = http1(guarded.port, target, method="OPTIONS" if target == "*" else "GET")
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_request"


def test_grpc_methods_are_normalised_before_authentication(guarded):
    channel = grpc.insecure_channel(guarded.target)
    for method in ["/v2/health/../../postern.test.Echo/Unary", "/v2/health/%2e%2e/%2e%2e/postern.test.Echo/Unary"]:
        with pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary(method)(b"hi", timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, method
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/v2/health/..%2f..%2fpostern.test.Echo/Unary")(b"hi", timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_masked_route_cannot_be_left_by_a_dot_segment(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server}, routes=[("/v2/health/", "model"), ("/v1/", "model")],
                      masking="{ default: { detectors: [email] } }", route_masking={"/v2/health/": "none"})
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "repeat: ann@example.com"}]})
    status, _, answer = curl("--path-as-is", "-H", "content-type: application/json", "--data-binary", body,
                             f"{p.url}/v2/health/../../v1/chat/completions")
    assert status == 200 and json.loads(answer)["choices"][0]["message"]["content"] == "[EMAIL]"
