"""The HTTP/1.1 upstream pool keeps every slot: requests cancelled at each stage of a
connection's life (waiting for one, while it opens, once open, in flight), alone and in a
storm, leave it able to serve `max_connections` slow requests at once afterwards."""
import socket
import threading
import time

import h2.config
import h2.connection
import h2.events
import pytest

from conftest import curl

MAX_CONNECTIONS = 4


@pytest.fixture(params=[MAX_CONNECTIONS, 1], ids=["idle_kept", "idle_closed"])
def pooled(start_postern, model_server, request):
    # With room for one idle connection only, connections that come free are closed,
    # some of them while they are still being opened.
    return start_postern(upstreams={"model": {"url": model_server, "max_connections": MAX_CONNECTIONS,
                                              "max_idle_connections": request.param, "response_timeout": "20s"}})


def h2_connection(p):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    s = socket.create_connection(("127.0.0.1", p.port))
    s.settimeout(10)
    s.sendall(conn.data_to_send())
    return conn, s


def headers(path):
    return [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "a")]


def reset_storm(p, streams, path, pause=0.0):
    """Opens `streams` streams and resets each, right away or after `pause`."""
    conn, s = h2_connection(p)
    with s:
        for index in range(streams):
            stream_id = 1 + 2 * index
            conn.send_headers(stream_id, headers(path), end_stream=True)
            if not pause:
                conn.reset_stream(stream_id)
        s.sendall(conn.data_to_send())
        if pause:
            time.sleep(pause)
            for index in range(streams):
                conn.reset_stream(1 + 2 * index)
            s.sendall(conn.data_to_send())
        time.sleep(0.2)


def full_capacity_is_served(p, seconds=1.0):
    """`max_connections` slow requests at once all finish in about one request's time."""
    results = []

    def one():
        started = time.monotonic()
        status = curl(f"{p.url}/slow?seconds={seconds}", timeout=30)[0]
        results.append((status, time.monotonic() - started))

    threads = [threading.Thread(target=one) for _ in range(MAX_CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200] * MAX_CONNECTIONS, results
    assert max(elapsed for _, elapsed in results) < seconds * 2.5, results


@pytest.mark.parametrize("stage", ["connecting", "queued", "connected", "in_flight"])
def test_cancellations_at_every_stage_leave_every_slot(pooled, stage):
    if stage == "connecting":      # reset in the same write as the request: the connection is still opening
        reset_storm(pooled, 50, "/slow?seconds=0.2")
    elif stage == "queued":        # more than max_connections: the rest wait for a slot, then go
        reset_storm(pooled, MAX_CONNECTIONS * 4, "/slow?seconds=0.5", pause=0.1)
    elif stage == "connected":     # the request is on its connection, no answer yet
        reset_storm(pooled, MAX_CONNECTIONS, "/slow?seconds=2", pause=0.5)
    else:                          # the answer is streaming
        reset_storm(pooled, MAX_CONNECTIONS, "/sse?events=50&delay=0.05", pause=0.5)
    full_capacity_is_served(pooled)


def test_a_storm_of_rapid_resets_leaves_every_slot(pooled):
    for _ in range(20):
        reset_storm(pooled, 100, "/v1/models")
    full_capacity_is_served(pooled)
    assert pooled.alive()


class CountingUpstream:
    """An HTTP/1.1 server that answers every request with an empty 200 and counts the
    connections it accepted."""

    def __init__(self):
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    @staticmethod
    def answer(conn):
        with conn:
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    _, data = data.split(b"\r\n\r\n", 1)
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")


def test_streams_reset_as_they_open_open_no_upstream_connection(start_postern):
    upstream = CountingUpstream()
    p = start_postern(upstreams={"model": f"http://127.0.0.1:{upstream.port}"})
    for _ in range(10):
        reset_storm(p, 100, "/v1/models")
    assert upstream.accepted == 0
    entries = p.request_log(entries=1000)
    assert len(entries) == 1000 and {e["outcome"] for e in entries} == {"caller_reset"}
    assert curl(f"{p.url}/v1/models")[0] == 200 and upstream.accepted == 1
    upstream.listener.close()
