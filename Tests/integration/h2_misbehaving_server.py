"""A raw HTTP/2 (h2c) upstream built on python-h2 that misbehaves on purpose.

- /rst/CODE: response headers (gRPC-shaped), one DATA frame, then RST_STREAM with that
  HTTP/2 error code. Checks how Postern passes upstream resets on.
- /status/CODE: a response with that :status (any string), a DATA frame "SECRET", the end.
  Checks that a status outside 1xx-5xx is refused rather than its body passed on.
- any other path: a gRPC answer whose message is the request's message, gzip-compressed
  (grpc-encoding: gzip) whatever grpc-accept-encoding said. Checks that Postern masks
  messages that arrive compressed anyway.
"""
import gzip
import socket
import struct
import threading

import h2.config
import h2.connection
import h2.events


def serve_connection(sock):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, validate_outbound_headers=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    bodies = {}
    try:
        while data := sock.recv(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    path = dict(event.headers)[b":path"].decode()
                    if path.startswith("/status/"):
                        conn.send_headers(event.stream_id, [(":status", path.rsplit("/", 1)[1])])
                        conn.send_data(event.stream_id, b"SECRET", end_stream=True)
                        sock.sendall(conn.data_to_send())
                    elif path.startswith("/rst/"):
                        conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                        conn.send_data(event.stream_id, b"\x00\x00\x00\x00\x05first")
                        sock.sendall(conn.data_to_send())
                        conn.reset_stream(event.stream_id, error_code=int(path.rsplit("/", 1)[1]))
                    else:
                        bodies[event.stream_id] = b""
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    if event.stream_id in bodies:
                        bodies[event.stream_id] += event.data
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id in bodies:
                    message = gzip.compress(bodies.pop(event.stream_id)[5:])
                    conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc"),
                                                        ("grpc-encoding", "gzip")])
                    conn.send_data(event.stream_id, b"\x01" + struct.pack(">I", len(message)) + message)
                    conn.send_headers(event.stream_id, [("grpc-status", "0")], end_stream=True)
            sock.sendall(conn.data_to_send())
    except (OSError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def start():
    """Starts the server on an ephemeral loopback port; returns (port, listening socket)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def accept():
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1], listener
