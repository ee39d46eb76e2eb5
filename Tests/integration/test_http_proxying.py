"""HTTP/1.1 and h2c callers through Postern to an HTTP/1.1 model server, with curl."""
import json
import socket
import subprocess
import time

import httpx
import pytest

from conftest import curl


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_chat_completion_goes_through(postern, protocol):
    status, headers, body = curl(*protocol, f"{postern.url}/v1/chat/completions",
                                 "-H", "content-type: application/json",
                                 "-d", '{"messages":[{"role":"user","content":"hi"}]}')
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"] == "Postern forwarded this answer."
    assert len(headers["x-request-id"]) == 32
    assert "connection" not in headers or headers["connection"] == "keep-alive"


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_request_id_kept_when_valid_and_replaced_when_not(postern, protocol):
    _, headers, body = curl(*protocol, "-H", "x-request-id: trace-123.abc", "-d", "x", f"{postern.url}/echo")
    assert headers["x-request-id"] == "trace-123.abc"
    assert headers["x-echo-request-id"] == "trace-123.abc"  # the upstream saw the same id
    _, headers, _ = curl(*protocol, "-H", "x-request-id: bad id with spaces", f"{postern.url}/v1/models")
    assert headers["x-request-id"] != "bad id with spaces" and len(headers["x-request-id"]) == 32
    logged = {entry["request_id"] for entry in postern.request_log(entries=2)}
    assert "trace-123.abc" in logged and headers["x-request-id"] in logged


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_large_upload_and_download(postern, protocol, tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * (12 << 12))  # 12 MiB
    status, headers, body = curl(*protocol, "--data-binary", f"@{blob}", f"{postern.url}/echo")
    assert status == 200 and body == blob.read_bytes()
    status, _, body = curl(*protocol, f"{postern.url}/bytes?n={40 << 20}")
    assert status == 200 and len(body) == 40 << 20


def test_chunked_upload_from_http1_caller(postern, tmp_path):
    status, _, body = curl("-H", "transfer-encoding: chunked", "--data-binary", "hello chunked world",
                           f"{postern.url}/echo")
    assert status == 200 and body == b"hello chunked world"


def test_keep_alive_reuses_one_connection(postern):
    out = subprocess.run(["curl", "-sS", "-v", f"{postern.url}/v1/models", f"{postern.url}/v1/models",
                          f"{postern.url}/v1/models"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stderr.count("Re-using existing connection") + out.stderr.count("Reusing existing") >= 2


def test_pipelined_requests_answered_in_order(postern):
    with socket.create_connection(("127.0.0.1", postern.port)) as s:
        s.sendall(b"GET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /status?code=202 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /status?code=203 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        s.settimeout(10)
        while chunk := s.recv(65536):
            data += chunk
    statuses = [line.split()[1] for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1")]
    assert statuses == [b"201", b"202", b"203"]


def read_until_closed(s):
    data = b""
    s.settimeout(10)
    while chunk := s.recv(65536):
        data += chunk
    return data


def test_head_response_has_no_body_and_keeps_the_connection(postern):
    """A HEAD answer says what a GET would get, and the next response follows at once."""
    with socket.create_connection(("127.0.0.1", postern.port)) as s:
        s.sendall(b"HEAD /v1/models HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.3)
        s.sendall(b"GET /status?code=202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = read_until_closed(s)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 ")  # the example server answers HEAD with 501 and a length
    assert int(dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])[b"content-length"]) > 0
    assert rest.startswith(b"HTTP/1.1 202 ")  # no body bytes in between


def test_http10_caller_gets_a_body_it_can_read(postern):
    """An HTTP/1.0 caller cannot read chunked framing: a stream without a length ends with
    the connection instead."""
    with socket.create_connection(("127.0.0.1", postern.port)) as s:
        s.sendall(b"GET /sse?events=2&delay=0 HTTP/1.0\r\nHost: a\r\n\r\n")
        data = read_until_closed(s)
    head, body = data.split(b"\r\n\r\n", 1)
    fields = {line.split(b": ", 1)[0].lower(): line.split(b": ", 1)[1] for line in head.split(b"\r\n")[1:]}
    assert b"transfer-encoding" not in fields and fields[b"connection"] == b"close"
    assert body.count(b"data:") == 3 and body.endswith(b"\n\n")


def test_http10_keep_alive_is_acknowledged(postern):
    with socket.create_connection(("127.0.0.1", postern.port)) as s:
        s.sendall(b"GET /v1/models HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
        s.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nconnection: keep-alive" in head and b"content-length: " in head


def test_sse_first_event_arrives_before_upstream_finishes(postern):
    """Four events 0.5 s apart: the first must arrive long before the last is sent."""
    with httpx.Client(http2=False, timeout=10) as client:
        start = time.monotonic()
        with client.stream("GET", f"{postern.url}/sse?events=4&delay=0.5") as response:
            assert response.headers["content-type"] == "text/event-stream"
            arrivals = []
            for line in response.iter_lines():
                if line.startswith("data:"):
                    arrivals.append(time.monotonic() - start)
    assert len(arrivals) == 5
    assert arrivals[0] < 0.4, arrivals
    assert arrivals[-1] > 1.4, arrivals


def test_sse_over_h2c(postern):
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        start = time.monotonic()
        with client.stream("POST", f"{postern.url}/v1/chat/completions", json={"stream": True, "delay": 0.3}) as r:
            assert r.http_version == "HTTP/2"
            first = None
            events = []
            for line in r.iter_lines():
                if line.startswith("data:"):
                    first = first or time.monotonic() - start
                    events.append(line)
    assert events[-1] == "data: [DONE]" and len(events) == 7  # five words, the finish chunk, [DONE]
    assert first < 0.3


def test_hop_by_hop_headers_not_forwarded(postern):
    with socket.create_connection(("127.0.0.1", postern.port)) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close, x-secret-hop\r\n"
                  b"X-Secret-Hop: leak\r\nContent-Length: 2\r\n\r\nok")
        s.settimeout(10)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\nok")
    assert b"connection: close" in data.lower()


def test_upstream_http1_connections_are_reused(postern):
    """Sequential requests from separate callers share one pooled upstream connection."""
    peers = {json.loads(curl(f"{postern.url}/peer")[2])["peer"] for _ in range(10)}
    assert len(peers) == 1


def test_upstream_h2c_streams_are_multiplexed(postern):
    """Concurrent gRPC calls from several callers ride one upstream HTTP/2 connection."""
    import grpc
    import grpc_echo
    from concurrent.futures import ThreadPoolExecutor

    def call(_):
        with grpc.insecure_channel(postern.target) as channel:
            return grpc_echo.stub(channel)["Peer"](b"", timeout=10)

    with ThreadPoolExecutor(8) as pool:
        peers = set(pool.map(call, range(16)))
    assert len(peers) == 1, peers


def test_pooled_connection_idle_too_long_is_not_reused(start_postern, model_server):
    p = start_postern(upstreams={"model": {"url": model_server, "idle_timeout": "300ms"}})
    first = json.loads(curl(f"{p.url}/peer")[2])["peer"]
    assert json.loads(curl(f"{p.url}/peer")[2])["peer"] == first
    time.sleep(0.6)
    assert json.loads(curl(f"{p.url}/peer")[2])["peer"] != first


def test_expect_100_continue_is_answered_by_postern(postern, tmp_path):
    """curl sends `Expect: 100-continue` for large bodies and otherwise waits a second."""
    blob = tmp_path / "blob"
    blob.write_bytes(b"e" * (3 << 20))
    start = time.monotonic()
    status, _, body = curl("--data-binary", f"@{blob}", f"{postern.url}/echo")
    assert status == 200 and body == blob.read_bytes()
    assert time.monotonic() - start < 0.5


def test_expect_100_continue_not_sent_for_a_refused_request(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server}, limits={"max_request_body": "1KiB"})
    with socket.create_connection(("127.0.0.1", p.port)) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        s.settimeout(5)
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply


def test_upstream_connection_cap_queues_requests(start_postern, model_server):
    """Eight concurrent callers, at most two connections to the model server: all are
    answered, in rounds, over no more than two upstream connections."""
    from concurrent.futures import ThreadPoolExecutor
    p = start_postern(upstreams={"model": {"url": model_server, "max_connections": 2}})

    def call(_):
        status, _, body = curl(f"{p.url}/slow?seconds=0.4")
        return status, json.loads(body)["peer"]

    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    elapsed = time.monotonic() - start
    assert all(status == 200 for status, _ in results)
    assert len({peer for _, peer in results}) <= 2
    assert elapsed >= 1.5  # four rounds of 0.4 s: the cap really held


def test_request_waiting_for_a_capped_pool_times_out_cleanly(start_postern, model_server):
    import threading
    p = start_postern(upstreams={"model": {"url": model_server, "max_connections": 1,
                                           "response_timeout": "700ms"}})
    first = {}
    holder = threading.Thread(target=lambda: first.update(r=curl(f"{p.url}/slow?seconds=0.5")))
    holder.start()
    time.sleep(0.1)
    status, _, body = curl(f"{p.url}/slow?seconds=0.5")  # waits ~0.4 s, then needs 0.5 s more
    holder.join()
    assert first["r"][0] == 200
    assert status == 504 and json.loads(body)["error"]["code"] == "upstream_timeout"
    assert curl(f"{p.url}/v1/models")[0] == 200  # the abandoned waiter did not wedge the pool


def test_idempotent_request_dropped_by_a_retiring_connection_is_retried(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server})
    assert curl(f"{p.url}/drop-next")[0] == 200           # the pooled connection will drop the next one
    status, _, body = curl(f"{p.url}/v1/models")            # sent on it, dropped, retried on a new one
    assert status == 200 and json.loads(body)["data"][0]["id"] == "quickstart-llm"


def test_non_idempotent_request_is_never_retried(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server})
    assert curl(f"{p.url}/drop-next")[0] == 200
    status, _, body = curl("-d", "{}", f"{p.url}/v1/chat/completions")
    assert status == 502 and json.loads(body)["error"]["code"] == "upstream_unavailable"
