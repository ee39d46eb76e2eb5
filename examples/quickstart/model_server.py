#!/usr/bin/env python3
"""A tiny OpenAI-compatible model server for Postern's quickstart and tests.

Standard library only. It speaks HTTP/1.1 with keep-alive, reads chunked request bodies,
and streams Server-Sent Events with a pause between events, like a real LLM server.
It answers with canned text; it is not a model.

Routes:
  GET  /v2/health/ready         readiness, as KServe v2 servers answer it
  GET  /v1/models               the model list
  POST /v1/chat/completions     JSON, or SSE when the body says "stream": true
  POST /v1/responses            the OpenAI Responses API stream (SSE with `event:` names)
  POST /v1/messages             the Anthropic Messages stream
  POST /api/chat                Ollama's chat stream (newline-delimited JSON)
  POST /generate_stream         TGI's token stream
  POST /echo, /ANY/echo         returns the request body (and its length in a header); the
                                second form lets tests reach it on routes with other policies
  GET  /bytes?n=N               N bytes of response body
  GET  /sse?events=N&delay=S    N SSE events, S seconds apart, then [DONE]
  GET  /status?code=C           an empty response with that status
  GET  /slow?seconds=S          waits S seconds before answering
  GET  /truncated               promises 100000 bytes, sends 1000, and drops the connection
  GET  /peer                    the client's address and port (shows connection reuse)
  POST /slowread?delay=S         reads the body 64 KiB at a time, S seconds apart; answers its size
  GET  /drop-next               answers, then drops the next request on this connection unanswered
                                (a server retiring a kept-alive connection at that very moment)
"""
import argparse
import gzip
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MODEL = "quickstart-llm"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "quickstart-model/0.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        if self.server.verbose:
            sys.stderr.write("model: " + fmt % args + "\n")

    # -- helpers -----------------------------------------------------------
    def read_body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length", 0)))

    def send_json(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_sse(self, events, delay):
        """Events are data strings, or (name, data) pairs sent with an `event:` line."""
        self.send_stream("text/event-stream", [
            (f"event: {e[0]}\ndata: {e[1]}\n\n" if isinstance(e, tuple) else f"data: {e}\n\n").encode()
            for e in events], delay)

    def send_stream(self, content_type, pieces, delay):
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for data in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    @staticmethod
    def answer_words(request):
        """The canned answer, or the user's text after "repeat: " in 4-character pieces, so
        tests can plant values in answers and split them across events."""
        messages = request.get("messages") or [{"role": "user", "content": request.get("input", "")}]
        said = [m.get("content", "") for m in messages if m.get("role") == "user"]
        if said and isinstance(said[-1], str) and said[-1].startswith("repeat: "):
            text = said[-1][len("repeat: "):]
            return [text[i:i + 4] for i in range(0, len(text), 4)]
        return ["Postern", " forwarded", " this", " answer", "."]

    # -- routes ------------------------------------------------------------
    def do_GET(self):
        if getattr(self, "drop_next", False):
            self.close_connection = True
            self.connection.shutdown(2)
            return
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/v2/health/ready":
            self.send_json(200, {"ready": True})
        elif url.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        elif url.path == "/bytes":
            n = int(query.get("n", "0"))
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n > 0:
                self.wfile.write(block[: min(n, len(block))])
                n -= min(n, len(block))
        elif url.path == "/sse":
            count, delay = int(query.get("events", "3")), float(query.get("delay", "0.2"))
            self.send_sse([json.dumps({"index": i}) for i in range(count)] + ["[DONE]"], delay)
        elif url.path == "/drop-next":
            self.drop_next = True
            self.send_json(200, {"armed": True})
        elif url.path == "/gzip":
            body = gzip.compress(json.dumps({"email": "ann@example.com"}).encode())
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/headers":
            # What reached the model server, so tests can check what Postern forwards.
            self.send_json(200, {name.lower(): value for name, value in self.headers.items()})
        elif url.path == "/peer":
            self.send_json(200, {"peer": f"{self.client_address[0]}:{self.client_address[1]}"})
        elif url.path == "/truncated":
            self.send_response(200)
            self.send_header("content-length", "100000")
            self.end_headers()
            self.wfile.write(b"t" * 1000)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif url.path == "/slow":
            time.sleep(float(query.get("seconds", "1")))
            self.send_json(200, {"slept": float(query.get("seconds", "1")),
                                 "peer": f"{self.client_address[0]}:{self.client_address[1]}"})
        elif url.path == "/status":
            # An answer with a given status, optional content type and body, framed by
            # content-length or (framing=chunked) as chunks, with no type unless asked.
            body = query.get("body", "").encode()
            self.send_response(int(query.get("code", "200")))
            if "type" in query:
                self.send_header("content-type", query["type"])
            if query.get("code") in ("301", "302", "307", "308"):
                self.send_header("location", "/v1/models")
            if query.get("framing") == "chunked":
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                if body:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        else:
            self.send_json(404, {"error": "not found", "path": url.path})

    def slow_body_length(self, delay):
        total = 0
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return total
                while size > 0:
                    n = len(self.rfile.read(min(size, 65536)))
                    size -= n
                    total += n
                    time.sleep(delay)
                self.rfile.readline()
        remaining = int(self.headers.get("content-length", 0))
        while remaining > 0:
            n = len(self.rfile.read(min(remaining, 65536)))
            remaining -= n
            total += n
            time.sleep(delay)
        return total

    def do_POST(self):
        if getattr(self, "drop_next", False):
            self.close_connection = True
            self.connection.shutdown(2)
            return
        url = urlparse(self.path)
        if url.path == "/slowread":
            body = b""
        else:
            body = self.read_body()
        if url.path == "/slowread":
            self.send_json(200, {"received": self.slow_body_length(float(
                parse_qs(url.query).get("delay", ["0.05"])[0]))})
            return
        if url.path == "/echo" or url.path.endswith("/echo"):
            self.send_response(200)
            self.send_header("content-type", self.headers.get("content-type", "application/octet-stream"))
            self.send_header("content-length", str(len(body)))
            self.send_header("x-echo-request-id", self.headers.get("x-request-id", ""))
            self.send_header("x-echo-authorization", self.headers.get("authorization", ""))
            self.end_headers()
            self.wfile.write(body)
        elif url.path in STREAMS:
            request = json.loads(body or b"{}")
            STREAMS[url.path](self, self.answer_words(request), float(request.get("delay", 0.02)))
        elif url.path == "/v1/chat/completions":
            request = json.loads(body or b"{}")
            words = self.answer_words(request)
            if request.get("stream"):
                chunks = [json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                                      "model": MODEL, "choices": [{"index": 0, "delta": {"content": w},
                                                                   "finish_reason": None}]}) for w in words]
                chunks.append(json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                                          "model": MODEL, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
                self.send_sse(chunks + ["[DONE]"], float(request.get("delay", 0.05)))
            else:
                self.send_json(200, {
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": MODEL,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "".join(words)}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                })
        else:
            self.send_json(404, {"error": "not found", "path": url.path})


def responses_stream(handler, words, delay):
    text = "".join(words)
    item = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    response = {"id": "resp_1", "object": "response", "created_at": 1700000000, "model": MODEL, "status": "in_progress",
                "output": []}
    part = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events = [("response.created", {"response": response}),
              ("response.output_item.added", {"output_index": 0, "item": item}),
              ("response.content_part.added", {**part, "part": {"type": "output_text", "text": "", "annotations": []}})]
    events += [("response.output_text.delta", {**part, "delta": w, "logprobs": []}) for w in words]
    done_part = {"type": "output_text", "text": text, "annotations": []}
    done_item = {**item, "status": "completed", "content": [done_part]}
    events += [("response.output_text.done", {**part, "text": text, "logprobs": []}),
               ("response.content_part.done", {**part, "part": done_part}),
               ("response.output_item.done", {"output_index": 0, "item": done_item}),
               ("response.completed", {"response": {**response, "status": "completed", "output": [done_item]}})]
    handler.send_sse([(name, json.dumps({"type": name, "sequence_number": n, **fields}))
                      for n, (name, fields) in enumerate(events)], delay)


def messages_stream(handler, words, delay):
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": MODEL,
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}}
    events = [("message_start", {"message": message}),
              ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
              ("ping", {})]
    events += [("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": w}}) for w in words]
    events += [("content_block_stop", {"index": 0}),
               ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": len(words)}}),
               ("message_stop", {})]
    handler.send_sse([(name, json.dumps({"type": name, **fields})) for name, fields in events], delay)


def ollama_stream(handler, words, delay):
    line = {"model": MODEL, "created_at": "2026-12-07T10:00:00Z"}
    lines = [{**line, "message": {"role": "assistant", "content": w}, "done": False} for w in words]
    lines.append({**line, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                  "total_duration": 1000, "eval_count": len(words)})
    handler.send_stream("application/x-ndjson", [json.dumps(x).encode() + b"\n" for x in lines], delay)


def tgi_stream(handler, words, delay):
    events = [json.dumps({"index": i, "token": {"id": i, "text": w, "logprob": -0.1, "special": False},
                          "generated_text": "".join(words) if i == len(words) - 1 else None, "details": None})
              for i, w in enumerate(words)]
    handler.send_stream("text/event-stream", [f"data:{e}\n\n".encode() for e in events], delay)


STREAMS = {"/v1/responses": responses_stream, "/v1/messages": messages_stream, "/api/chat": ollama_stream,
           "/generate_stream": tgi_stream}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.verbose = args.verbose
    print(f"model server on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
