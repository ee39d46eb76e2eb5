"""Server-side reset floods ("MadeYouReset", CVE-2025-8671): a client that makes Postern
reset streams itself, here by overflowing each stream's flow-control window, is cut off
with GOAWAY (ENHANCE_YOUR_CALM) once past the reset budget; nothing reaches the model
server for those streams, and other callers are served throughout."""
import socket
import struct
import time

import h2.config
import h2.connection

from conftest import curl
from test_upstream_pool import CountingUpstream

GOAWAY, RST_STREAM, WINDOW_UPDATE = 0x7, 0x3, 0x8


def frames(data):
    """(type, stream, payload) of each whole frame in `data`, and the rest."""
    found = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        if len(data) < 9 + length:
            break
        found.append((data[3], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF, data[9:9 + length]))
        data = data[9 + length:]
    return found, data


def flood(p, streams, per_write=50):
    """Opens streams and overflows each one's window; returns the GOAWAY error code (or
    None), the resets seen, and whether the connection was closed."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    s = socket.create_connection(("127.0.0.1", p.port))
    s.settimeout(0.2)
    s.sendall(conn.data_to_send())
    buffer, resets, goaway = b"", 0, None
    stream_id = 1
    try:
        for _ in range(0, streams, per_write):
            out = b""
            for _ in range(per_write):
                conn.send_headers(stream_id, [(":method", "GET"), (":path", "/v1/models"), (":scheme", "http"),
                                              (":authority", "a")], end_stream=True)
                out += conn.data_to_send()
                out += struct.pack(">I", 4)[1:] + bytes([WINDOW_UPDATE, 0]) + struct.pack(">II", stream_id, 0x7FFFFFFF)
                stream_id += 2
            s.sendall(out)
            try:
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        return goaway, resets, True
                    found, buffer = frames(buffer + chunk)
                    for kind, _, payload in found:
                        resets += kind == RST_STREAM
                        if kind == GOAWAY:
                            goaway = int.from_bytes(payload[4:8], "big")
            except socket.timeout:
                pass
    except (BrokenPipeError, ConnectionResetError):
        return goaway, resets, True
    finally:
        s.close()
    return goaway, resets, False


def test_a_client_that_makes_postern_reset_streams_is_cut_off(start_postern):
    upstream = CountingUpstream()
    p = start_postern(upstreams={"model": f"http://127.0.0.1:{upstream.port}"},
                      limits={"reset_burst": 200, "reset_rate": 10})
    started = time.monotonic()
    goaway, resets, closed = flood(p, 2000)
    assert goaway == 0xB and closed, (goaway, resets, closed)  # ENHANCE_YOUR_CALM
    assert 200 <= resets <= 400 and time.monotonic() - started < 30
    assert upstream.accepted == 0
    assert curl(f"{p.url}/v1/models")[0] == 200
    events = [e for e in p.request_log(entries=resets + 1) if e.get("event") == "reset_flood"]
    assert events and events[0]["outcome"] == "enhance_your_calm"


def test_resets_within_the_budget_keep_the_connection(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server}, limits={"reset_burst": 200, "reset_rate": 10})
    goaway, resets, closed = flood(p, 100)
    assert goaway is None and not closed and resets == 100


def test_an_hpack_bomb_ends_its_connection_and_costs_others_nothing(start_postern, model_server):
    """A header block of a few kilobytes that decodes to megabytes (one large field put in
    the dynamic table, then referenced by a one-byte index thousands of times)."""
    p = start_postern(upstreams={"model": model_server}, limits={"max_header_list_size": "16KiB"})
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    value = b"v" * 4000
    # Literal with incremental indexing, new name: 0x40, name, value (7-bit prefix lengths).
    def string(data):
        return (bytes([0x7F]) + _varint(len(data) - 127) if len(data) >= 127 else bytes([len(data)])) + data
    block = bytes([0x82, 0x84, 0x86]) + bytes([0x41, 1]) + b"a"  # :method GET, :path /, :scheme http, :authority a
    block += bytes([0x40]) + string(b"x-bomb") + string(value) + bytes([0xBE]) * 12000  # index 62, 12,000 times
    frame = len(block).to_bytes(3, "big") + bytes([0x1, 0x5]) + (1).to_bytes(4, "big") + block
    with socket.create_connection(("127.0.0.1", p.port)) as s:
        s.settimeout(5)
        s.sendall(conn.data_to_send() + frame)
        received, closed = b"", False
        started = time.monotonic()
        while time.monotonic() - started < 5:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # closed with the rest of the bomb unread
                chunk = b""
            if not chunk:
                closed = True
                break
            received += chunk
    assert closed and time.monotonic() - started < 2
    assert p.alive() and curl("--http2-prior-knowledge", f"{p.url}/v1/models")[0] == 200


def _varint(n):
    out = b""
    while n >= 128:
        out += bytes([n % 128 + 128])
        n //= 128
    return out + bytes([n])
