#!/usr/bin/env python3
"""Writes the seed corpora for postern-fuzz (Tests/fuzz/corpus/TARGET/NAME): a few valid
and a few subtly broken inputs per target, so the fuzzer starts inside each format.
Run from the repository root with the test venv: .venv/bin/python Tests/fuzz/make_seeds.py
(corpus/x509/leaf, a certificate the fuzz CA signed, is kept as it is: its key is gone)."""
import base64
import json
import struct
from pathlib import Path

import hpack

ROOT = Path(__file__).resolve().parent / "corpus"
SEEDS = {}


def seed(target, name, data):
    SEEDS.setdefault(target, {})[name] = data if isinstance(data, bytes) else data.encode()


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def headers(stream, fields, end_stream=True):
    return frame(1, 0x4 | (0x1 if end_stream else 0), stream, hpack.Encoder().encode(fields))


def grpc(message):
    return b"\x00" + struct.pack(">I", len(message)) + message


def pg(kind, body):
    return kind.encode() + struct.pack(">I", len(body) + 4) + body


BEARER = ("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy9ucy9wcm9kL3NhL2NsaWVudCIs"
          "ImF1ZCI6InNwaWZmZTovL2V4YW1wbGUub3JnL3Bvc3Rlcm4iLCJleHAiOjE4MDAwMDAzMDB9.c2lnbmF0dXJl")

# Whole caller connections, HTTP/1.1.
seed("caller-http1", "get", "GET /v1/models HTTP/1.1\r\nHost: postern\r\n\r\n")
seed("caller-http1", "post-bearer", "POST /v1/chat/completions HTTP/1.1\r\nHost: postern\r\nAuthorization: Bearer "
     + BEARER + "\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"model\":\"llama\"}")
seed("caller-http1", "chunked", "POST /v2/models/m/infer HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n")
seed("caller-http1", "two-hosts", "GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
seed("caller-http1", "absolute-form", "GET http://other/v1/models HTTP/1.1\r\nHost: a\r\n\r\n")
seed("caller-http1", "pipelined", "GET /v1/a HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/../b HTTP/1.1\r\nHost: a\r\n\r\n")
seed("caller-http1", "expect", "PUT /v1/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
seed("caller-http1", "smuggle", "POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
seed("caller-http1", "encoded-slash", "GET /v1/%2e%2e/admin%2Fx?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
seed("caller-http1", "http10", "GET /v1/models HTTP/1.0\r\n\r\n")

# HTTP/2 frames after the client preface (caller-http2 and http2-server add the preface).
get = [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/v1/models")]
post = [(":method", "POST"), (":scheme", "http"), (":authority", "a"), (":path", "/v1/chat/completions"),
        ("authorization", "Bearer " + BEARER), ("content-type", "application/json"), ("content-length", "2")]
grpc_head = [(":method", "POST"), (":scheme", "http"), (":authority", "a"), (":path", "/inference.GRPCInferenceService/ModelInfer"),
             ("content-type", "application/grpc"), ("te", "trailers")]
for target in ("caller-http2", "http2-server"):
    seed(target, "get", frame(4, 1, 0) + headers(1, get))
    seed(target, "post-body", headers(1, post, end_stream=False) + frame(0, 1, 1, b"{}"))
    seed(target, "grpc", headers(1, grpc_head, end_stream=False) + frame(0, 1, 1, grpc(b"\x0a\x01m")))
    seed(target, "reset", headers(1, get) + frame(3, 0, 1, struct.pack(">I", 8)) + headers(3, get))
    seed(target, "window-overflow", headers(1, post, end_stream=False) + frame(8, 0, 1, struct.pack(">I", 0x7FFFFFFF)))
    seed(target, "data-beyond-length", headers(1, post, end_stream=False) + frame(0, 1, 1, b"{\"a\":1}"))
    seed(target, "continuation", frame(1, 0x1, 1, hpack.Encoder().encode(get)[:5])
         + frame(9, 0x4, 1, hpack.Encoder().encode(get)[5:]))
    seed(target, "ping-settings-goaway", frame(6, 0, 0, b"12345678") + frame(4, 0, 0, struct.pack(">HI", 4, 1 << 20))
         + frame(7, 0, 0, struct.pack(">II", 0, 0)))
    seed(target, "priority-padded", frame(2, 0, 1, struct.pack(">IB", 0, 15))
         + frame(1, 0x4 | 0x1 | 0x8, 1, b"\x03" + hpack.Encoder().encode(get) + b"\x00\x00\x00"))

# A model server's answer to one request (stream 1).
server_settings = frame(4, 0, 0, struct.pack(">HI", 3, 100)) + frame(4, 1, 0)
ok = [(":status", "200"), ("content-type", "application/json")]
seed("http2-client", "answer", server_settings + headers(1, ok, end_stream=False) + frame(0, 1, 1, b"{\"ok\":true}"))
seed("http2-client", "trailers", server_settings + headers(1, [(":status", "200"), ("content-type", "application/grpc")],
     end_stream=False) + frame(0, 0, 1, grpc(b"\x0a\x02hi")) + headers(1, [("grpc-status", "0")]))
seed("http2-client", "reset", server_settings + frame(3, 0, 1, struct.pack(">I", 2)))
seed("http2-client", "goaway", server_settings + frame(7, 0, 0, struct.pack(">II", 0, 11)))
seed("http2-client", "push-promise", server_settings + frame(5, 0x4, 1, struct.pack(">I", 2) + hpack.Encoder().encode(get)))

# A model server's HTTP/1.1 reply to one request on a pooled connection.
seed("http1-upstream", "length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
seed("http1-upstream", "chunked-trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\nx-t: 1\r\n\r\n")
seed("http1-upstream", "continue-then-close", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nConnection: close\r\n\r\nbye")
seed("http1-upstream", "two-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
seed("http1-upstream", "truncated", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
seed("http1-upstream", "extra-after", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")

# Masking: bodies after the planted value the targets put in front.
seed("json-mask", "chat", json.dumps({"choices": [{"message": {"content": "call 415-555-2671 or a.b@example.com"}}]}))
seed("json-mask", "nested", json.dumps({"data": [{"embedding": [0.1, -2e-3, 3], "ssn": "078-05-1120", "ip": "10.1.2.3"}]}))
seed("json-mask", "escapes", '{"t":"\\u0034111 1111 1111 1111 \\ud83d\\ude00","n":4111111111111111,"k":"AKIAIOSFODNN7EXAMPLE"}')
seed("json-mask", "broken", '{"a":[1,2,{"b":"c"')
for name, events in {
    "chat": ['{"choices":[{"delta":{"content":"IBAN DE89 3704 "}}]}', '{"choices":[{"delta":{"content":"0044 0532 0130 00"}}]}', "[DONE]"],
    "comments": [],
}.items():
    seed("sse-mask", name, "".join(f"data: {e}\n\n" for e in events) or ": keep-alive\n\nevent: ping\ndata: {}\n\n")
seed("sse-mask", "anthropic", "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
     "data: {\"type\":\"message_stop\"}\n\n")
seed("sse-mask", "responses", "data: {\"type\":\"response.output_text.done\",\"item_id\":\"m\",\"text\":\"x\"}\n\n"
     "data: {\"type\":\"response.completed\",\"response\":{\"output\":[]}}\n\n")
seed("sse-mask", "tgi", "data:{\"token\":{\"text\":\"4111 \"},\"generated_text\":null}\n\n"
     "data:{\"token\":{\"text\":\"1111\"},\"generated_text\":\"4111 1111\"}\n\n")
seed("ndjson-mask", "done", '{"model":"m","message":{"content":"call 415 555 "},"done":false}\n'
     '{"model":"m","message":{"content":"2671"},"done":true}\n')
seed("ndjson-mask", "generate", '{"model":"m","response":"ssn 123-","done":false}\r\n\n{"model":"m","response":"45-6789","done":false}')
seed("ndjson-mask", "broken", '{"model":"m","response":"x"}\n{"unclosed":\n')
seed("sse-mask", "multiline", "id: 1\nevent: message\ndata: {\"text\":\n data: \"x@y.org\"}\r\n\r\nretry: 10\n\n")
def triton(header, *tensors):
    header = json.dumps(header).encode()
    return struct.pack("<H", len(header)) + header + b"".join(tensors)


def bytes_tensor(*elements):
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


text = bytes_tensor(b"card 4111 1111 1111 1111", b"", b"ok")
seed("triton-mask", "bytes-and-fp32", triton({"outputs": [
    {"name": "t", "datatype": "BYTES", "shape": [3], "parameters": {"binary_data_size": len(text)}},
    {"name": "x", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}},
    {"name": "j", "datatype": "BYTES", "shape": [1], "data": ["a@b.cc"]}]}, text, struct.pack("<2f", 1.5, -2)))
seed("triton-mask", "short", triton({"outputs": [{"datatype": "INT64", "parameters": {"binary_data_size": 16}}]}, b"\0" * 8))
seed("grpc-mask", "reply", grpc(b"\x0a\x0bcall a@b.cc" + b"\x12\x05\x0a\x03abc" + b"\x1a\x0a\x0a\x01k\x12\x05v@w.x"))
seed("grpc-mask", "numbers", grpc(b"\x28\x96\x01\x22\x04\x00\x01\x02\x03"))
seed("grpc-mask", "compressed-flag", b"\x01\x00\x00\x00\x02\x0a\x00")

# Identity.
seed("jwt", "es256", BEARER)
seed("jwt", "none", base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + "."
     + base64.urlsafe_b64encode(b'{"sub":"spiffe://example.org/a"}').rstrip(b"=").decode() + ".")
seed("jwt", "hs256", "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo")
seed("jwks", "ec", json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "8p8Btvh8_RdkrEtCsHnHGmKnx-2XpZbAwl-TCXwkiN8",
                                          "y": "NcCJusMaubfc4YuV6sMP8rL4d2pyhMYOpcWUHfBtecE", "kid": "k1"}]}))
seed("jwks", "rsa-okp", json.dumps({"keys": [{"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "r"},
                                              {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}))
seed("spiffe-id", "workload", "spiffe://example.org/ns/prod/sa/client")
seed("spiffe-id", "domain", "spiffe://example.org")
seed("spiffe-id", "odd", "spiffe://Example.org//a/./b%20?x#y")

# Parsers.
for name, text in {"plain": "/v1/chat/completions?stream=true", "dots": "/v1/./a/../../b", "encoded": "/v2/models/%6d%2Fx/infer",
                   "absolute": "http://host:80/v1/x?y", "backslash": "/v1\\..\\admin", "star": "*", "fragment": "/a#b"}.items():
    seed("path", name, text)
seed("json", "object", '{"a":[1,-2.5e3,true,null,"\\u00e9"],"b":{"c":""}}')
seed("json", "duplicate", '{"a":1,"a":2}')
seed("json", "deep", "[" * 40 + "]" * 40)
seed("config", "quickstart", (Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "postern.yaml").read_text())
seed("config", "functions", """listen: { address: 127.0.0.1:8080 }
upstreams: { model: { url: http://127.0.0.1:8000 } }
routes: [{ prefix: /v1/, upstream: model, public: true }]
functions:
  inference: { callers: ["spiffe://example.org/ns/app/*"], operations: [infer], upstream_credential: { file: /run/k, header: authorization } }
rules:
  - { name: night, function: inference, allow: true, when: { hours: "08:00-20:00", timezone: Europe/Zurich } }
masking: { default: { detectors: [card, email], action: hash } }
""")
seed("grpc-framer", "two", grpc(b"abc") + grpc(b""))
seed("grpc-framer", "compressed", b"\x01\x00\x00\x00\x01x")
seed("postgres", "startup", pg("R", struct.pack(">I", 10) + b"SCRAM-SHA-256\x00\x00") + pg("S", b"server_version\x0015\x00")
     + pg("K", struct.pack(">II", 1, 2)) + pg("Z", b"I"))
seed("postgres", "rows", pg("T", struct.pack(">H", 1) + b"seq\x00" + b"\x00" * 18) + pg("D", struct.pack(">HI", 2, 2) + b"42"
     + struct.pack(">i", -1)) + pg("C", b"SELECT 1\x00") + pg("E", b"SERROR\x00C42P01\x00Mno table\x00\x00"))
seed("http1-reply", "length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
seed("http1-reply", "chunked", "HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
note = "postern.example/log\n3\nS0xJbrqVUrpS1VSxKqwqKfRNDQeB2yVdUrqagyPxzMI=\n\n\u2014 postern.example/log AAAAAQ" + "A" * 80 + "\n"
seed("audit-line", "record", '{"index":12,"v":1,"kind":"request","time":"2026-12-04T00:00:00Z"}')
seed("audit-line", "exported", '{"log_origin":"postern.example/log","log_signed":3,"index":2,"v":1,"kind":"request"}')
seed("audit-line", "checkpoint", json.dumps({"checkpoint": note}))
seed("audit-line", "header", json.dumps({"log": "postern.audit/1", "frontier": ["S0xJbrqVUrpS1VSxKqwqKfRNDQeB2yVdUrqagyPxzMI="],
                                         "checkpoint": note}))
seed("signed-note", "checkpoint", note)
seed("signed-note", "cosigned", note + "\u2014 witness.example AAAAAQ" + "B" * 100 + "\n")

for target, files in SEEDS.items():
    directory = ROOT / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
print(f"wrote {sum(len(f) for f in SEEDS.values())} seeds for {len(SEEDS)} targets under {ROOT}")
