"""An independent reading of Postern's audit files, written from RFC 9162 and the C2SP
signed-note and tlog-checkpoint specifications (not from Postern's code), so the tests
can check that Postern's log, checkpoints and proofs hold for someone else's verifier."""
import base64
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """MTH over leaf hashes (RFC 9162 section 2.1.1)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def verify_inclusion(leaf, index, size, proof, expected_root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(first, first_root, second, second_root, proof):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class VerifierKey:
    """A note verifier key: name+hex(key id)+base64(0x01 || Ed25519 public key)."""

    def __init__(self, text):
        name, key_id, blob = text.strip().split("+", 2)
        raw = base64.b64decode(blob)
        assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 verifier key"
        self.name, self.raw = name, raw[1:]
        self.id = hashlib.sha256(name.encode() + b"\n\x01" + self.raw).digest()[:4]
        assert self.id.hex() == key_id, "key id does not match"
        self.key = Ed25519PublicKey.from_public_bytes(self.raw)

    def open(self, note):
        """The checkpoint (origin, size, root) of a note signed by this key, else None."""
        text, _, signatures = note.rpartition("\n\n")
        text += "\n"
        for line in signatures.rstrip("\n").split("\n"):
            dash, name, sig = line.split(" ")
            assert dash == "\u2014"
            blob = base64.b64decode(sig)
            if name != self.name or blob[:4] != self.id:
                continue
            try:
                self.key.verify(blob[4:], text.encode())
            except Exception:
                return None
            origin, size, root_b64 = text.rstrip("\n").split("\n")[:3]
            return origin, int(size), base64.b64decode(root_b64)
        return None


def read_log(files, key):
    """Every record (parsed) and leaf hash, in order, after checking that each signed
    checkpoint matches the tree so far. Raises AssertionError at the first problem."""
    records, leaves, checkpoints = [], [], []
    for path in files:
        lines = open(path, "rb").read().split(b"\n")
        assert lines[-1] == b"", f"{path}: torn tail"
        header = json.loads(lines[0])
        assert header["log"] == "postern.audit/1"
        opened = key.open(header["checkpoint"])
        assert opened, f"{path}: header signature"
        assert opened[1] == len(leaves), f"{path}: begins at {opened[1]}, not {len(leaves)}"
        assert opened[2] == root(leaves), f"{path}: header root"
        for line in lines[1:-1]:
            item = json.loads(line)
            if "checkpoint" in item:
                opened = key.open(item["checkpoint"])
                assert opened, "checkpoint signature"
                assert opened[1] == len(leaves) and opened[2] == root(leaves), "checkpoint does not match the tree"
                checkpoints.append(opened)
            else:
                assert item["index"] == len(leaves), "index out of sequence"
                records.append(item)
                leaves.append(leaf_hash(line))
    return records, leaves, checkpoints
