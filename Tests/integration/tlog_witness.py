"""A small C2SP tlog-witness (add-checkpoint) for the tests, written from the
tlog-witness and tlog-cosignature specifications: it trusts one log key, checks every
consistency proof with the independent verifier in audit_reference, keeps the newest
cosigned size and root per origin, and answers with an Ed25519 cosignature/v1."""
import base64
import hashlib
import http.server
import struct
import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import audit_reference as ref


class Witness:
    def __init__(self, log_key, name="witness.test/w1"):
        self.log_key = ref.VerifierKey(log_key)
        self.name = name
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(name.encode() + b"\n\x04" + raw).digest()[:4]
        blob = base64.b64encode(b"\x04" + raw).decode()
        self.verifier = f"{name}+{self.key_id.hex()}+{blob}"
        self.public = self.private.public_key()
        self.state = {}  # origin -> (size, root)
        self.answers = []  # (old, size, status) of every request
        self.lock = threading.Lock()
        witness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                status, content_type, reply = witness.add_checkpoint(self.path, body)
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/w"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add_checkpoint(self, path, body):
        if path != "/w/add-checkpoint":
            return 404, "text/plain", b"no such endpoint\n"
        head, _, note = body.partition("\n\n")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            return 400, "text/plain", b"no old size line\n"
        old = int(lines[0][4:])
        proof = [base64.b64decode(line) for line in lines[1:]]
        opened = self.log_key.open(note)
        origin = note.split("\n", 1)[0]
        if origin != self.log_key.name:
            return self.answer(old, None, 404, "text/plain", b"unknown log\n")
        if opened is None:
            return self.answer(old, None, 403, "text/plain", b"no signature by a trusted key\n")
        _, size, root = opened
        with self.lock:  # the check and the update are one step, as the spec asks
            if old > size:
                return self.answer(old, size, 400, "text/plain", b"old size beyond the checkpoint\n")
            stored_size, stored_root = self.state.get(origin, (0, None))
            if old != stored_size:
                return self.answer(old, size, 409, "text/x.tlog.size", f"{stored_size}\n".encode())
            if old == size and stored_root not in (None, root):
                return self.answer(old, size, 409, "text/x.tlog.size", f"{stored_size}\n".encode())
            if old == 0 and proof:
                return self.answer(old, size, 400, "text/plain", b"a proof from size 0\n")
            if old > 0 and old != size and not ref.verify_consistency(old, stored_root, size, root, proof):
                return self.answer(old, size, 422, "text/plain", b"the consistency proof does not verify\n")
            self.state[origin] = (size, root)
            text = note.rpartition("\n\n")[0] + "\n"
            timestamp = int(time.time())
            signature = self.private.sign(f"cosignature/v1\ntime {timestamp}\n{text}".encode())
            blob = self.key_id + struct.pack(">Q", timestamp) + signature
            line = f"\u2014 {self.name} {base64.b64encode(blob).decode()}\n"
            return self.answer(old, size, 200, "text/plain; charset=utf-8", line.encode())

    def answer(self, old, size, status, content_type, reply):
        self.answers.append((old, size, status))
        return status, content_type, reply
