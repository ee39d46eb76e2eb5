"""A labelled corpus for judging the masking detectors: sensitive values of every built-in
kind in the spellings people and systems really use, and look-alikes that must survive
(Luhn-failing numbers, invalid SSNs, timestamps, dates, order ids, UUIDs, versions).
Everything is drawn from a seeded generator, so a run is repeatable and a new seed gives
values never seen before. Used by test_masking_quality.py and bench/quality.py."""
import base64
import json
import random
import string
import subprocess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

B32 = string.ascii_uppercase + "234567"
ALNUM = string.ascii_letters + string.digits


def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def digits(rng, n):
    return "".join(rng.choice(string.digits) for _ in range(n))


# (prefix choices, length, grouping) per issuer
ISSUERS = [
    (["4"], 16, (4, 4, 4, 4)), (["4"], 13, None), (["51", "52", "53", "54", "55"], 16, (4, 4, 4, 4)),
    (["2221", "2300", "2500", "2720"], 16, (4, 4, 4, 4)), (["34", "37"], 15, (4, 6, 5)),
    (["6011", "65", "644", "649"], 16, (4, 4, 4, 4)), (["3528", "3530", "3589"], 16, (4, 4, 4, 4)),
    (["36", "38", "300", "305"], 14, (4, 6, 4)), (["62"], 16, (4, 4, 4, 4)), (["62"], 19, None),
    (["4"], 19, None),
]


def card_number(rng, valid=True):
    """A number an issuer could have issued, its Luhn digit right or wrong, and its grouping."""
    prefixes, length, sizes = rng.choice(ISSUERS)
    prefix = rng.choice(prefixes)
    body = prefix + digits(rng, length - 1 - len(prefix))
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check, sizes


def group(number, sizes, sep):
    out, i = [], 0
    for s in sizes:
        out.append(number[i:i + s])
        i += s
    return sep.join(out)


def card(rng, valid=True):
    number, sizes = card_number(rng, valid)
    style = rng.randrange(3) if sizes else 0
    return number if style == 0 else group(number, sizes, " -"[style - 1])


def ssn_parts(rng):
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"


def ssn(rng):
    a, g, s = ssn_parts(rng)
    # Nine bare digits only count after words that name an SSN (prose always has one).
    return rng.choice([f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}{g}{s}"])


FIRST = ["ann", "bo", "carlos", "dana", "eve", "farah", "george", "hiro", "ines", "jamal", "kim", "lena", "josé",
         "zoë", "søren"]
LAST = ["lee", "smith", "garcia", "nguyen", "okafor", "mueller", "rossi", "tanaka", "kowalski", "obrien"]
DOMAINS = ["example.com", "corp.example.org", "mail.example.co.uk", "example.io", "sub.example-health.net",
           "example.de", "uni.example.edu"]


def email(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{l}", f"{f}{l[0]}", f"{f}_{l}", f"{f}.{l}+{rng.choice(['news', 'x1'])}",
                        f"{f}{rng.randint(1, 99)}", f"{f[0].upper()}{l.capitalize()}", f"{f}-{l}"])
    return f"{local}@{rng.choice(DOMAINS)}"


def phone(rng):
    n = lambda k: digits(rng, k)  # noqa: E731
    area = str(rng.randint(201, 989))
    exch = str(rng.randint(200, 999))
    line = n(4)
    return rng.choice([
        f"+1{area}{exch}{line}", f"+1 {area} {exch} {line}", f"+1-{area}-{exch}-{line}",
        f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"{area}.{exch}.{line}", f"1-{area}-{exch}-{line}",
        f"+1 ({area}) {exch}-{line}", f"+44 20 {n(4)} {n(4)}", f"+44 7{n(3)} {n(6)}", f"020 {n(4)} {n(4)}",
        f"07{n(3)} {n(6)}", f"+49 30 {n(8)}", f"+49 151 {n(8)}", f"+33 1 {n(2)} {n(2)} {n(2)} {n(2)}",
        f"+33 6{n(8)}", f"+91 98{n(3)} {n(5)}", f"+81 3-{n(4)}-{n(4)}", f"+61 2 {n(4)} {n(4)}",
        f"+353 1 {n(3)} {n(4)}", f"0{rng.randint(1, 7)} {n(2)} {n(2)} {n(2)} {n(2)}",
        f"0{rng.randint(1, 7)}.{n(2)}.{n(2)}.{n(2)}.{n(2)}", f"(030) {n(7)}", f"(02) {n(4)} {n(4)}",
        f"0412 {n(3)} {n(3)}", f"+44 (0)20 {n(4)} {n(4)}", f"({area}){exch}-{line}", f"02 {n(4)} {n(4)}",
        f"06 {n(4)} {n(4)}",
        # National numbers without the international prefix (valid leading digits per region).
        f"030 {n(8)}", f"0151 {n(8)}", f"079 {n(3)} {n(2)} {n(2)}", f"044 {n(3)} {n(2)} {n(2)}",
        f"070-{n(3)} {n(2)} {n(2)}", f"6{n(2)} {n(2)} {n(2)} {n(2)}", f"91{n(1)} {n(3)} {n(3)}",
        f"(11) 9{n(4)}-{n(4)}", f"9{rng.randint(0, 8)}{n(2)} {n(4)}", f"8{rng.randint(1, 9)}{n(2)} {n(4)}",
        f"9{n(4)} {n(5)}", f"090-{n(4)}-{n(4)}", f"03-{n(4)}-{n(4)}", f"3{rng.randint(2, 9)}{n(1)} {n(3)} {n(4)}",
        f"06-{rng.choice('123458')}{n(7)}", f"55 {n(4)} {n(4)}", f"087 {n(3)} {n(4)}",
    ])


IBAN_FORMATS = {  # country: BBAN as (kind, count) runs, n = digits, a = upper letters, c = alnum
    "DE": [("n", 18)], "GB": [("a", 4), ("n", 14)], "FR": [("n", 10), ("c", 11), ("n", 2)],
    "ES": [("n", 20)], "IT": [("a", 1), ("n", 10), ("c", 12)], "NL": [("a", 4), ("n", 10)],
    "BE": [("n", 12)], "CH": [("n", 5), ("c", 12)], "AT": [("n", 16)], "PL": [("n", 24)],
    "SE": [("n", 20)], "IE": [("a", 4), ("n", 14)], "PT": [("n", 21)], "NO": [("n", 11)],
}


def iban(rng):
    country = rng.choice(list(IBAN_FORMATS))
    pools = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}
    bban = "".join(rng.choice(pools[k]) for k, count in IBAN_FORMATS[country] for _ in range(count))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def ipv4(rng):
    a = rng.choice([10, 172, 192, rng.randint(1, 223)])
    return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng):
    groups = [f"{rng.randrange(65536):x}" for _ in range(8)]
    groups[0] = rng.choice(["2001", "fe80", "2600", "2a02", "fd12"])
    form = rng.randrange(5)
    if form == 0:
        return ":".join(groups)
    if form == 1:
        return ":".join(g.zfill(4) for g in groups)
    if form == 2:
        return f"{groups[0]}:db8::{groups[7]}"
    if form == 3:
        return f"{groups[0]}::{':'.join(groups[5:])}"
    return f"::ffff:{ipv4(rng)}"


def aws_key(rng):
    return rng.choice(["AKIA", "ASIA"]) + "".join(rng.choice(B32) for _ in range(16))


def github_token(rng):
    if rng.random() < 0.2:
        return "github_pat_" + "".join(rng.choice(ALNUM) for _ in range(22)) + "_" + \
            "".join(rng.choice(ALNUM) for _ in range(59))
    return rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + "".join(rng.choice(ALNUM) for _ in range(36))


def slack_token(rng):
    kind = rng.choice(["xoxb", "xoxp", "xoxa", "xoxr", "webhook"])
    if kind == "webhook":
        return "https://hooks.slack.com/services/T" + "".join(rng.choice(B32[:26]) for _ in range(8)) + \
            "/B" + "".join(rng.choice(B32[:26]) for _ in range(8)) + "/" + \
            "".join(rng.choice(ALNUM) for _ in range(24))
    return f"{kind}-{digits(rng, 12)}-{digits(rng, 13)}-" + "".join(rng.choice(ALNUM) for _ in range(24))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng):
    header = {"alg": rng.choice(["RS256", "ES256", "HS256"]), "typ": "JWT"}
    if rng.random() < 0.5:
        header["kid"] = f"key-{rng.randrange(100)}"
    claims = {"sub": f"user-{rng.randrange(10**6)}", "iat": 1715000000 + rng.randrange(10**6),
              "exp": 1716000000, "scope": "read write"}
    sig = bytes(rng.randrange(256) for _ in range(rng.choice([32, 64, 256])))
    return ".".join([b64url(json.dumps(header, separators=(",", ":")).encode()),
                     b64url(json.dumps(claims, separators=(",", ":")).encode()), b64url(sig)])


_KEYS = {}


def private_key(rng):
    """PEM blocks in every common encoding; keys are made once per kind (RSA is slow)."""
    kind = rng.choice(["pkcs1", "sec1", "pkcs8", "pkcs8-encrypted", "openssh", "openssh-ed25519"])
    if kind not in _KEYS:
        if kind in ("pkcs1", "pkcs8", "pkcs8-encrypted", "openssh"):
            key = rsa.generate_private_key(public_exponent=65537, key_size=1024 if kind != "openssh" else 2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1()) if kind == "sec1" else ed25519.Ed25519PrivateKey.generate()
        fmt = {"pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
               "sec1": serialization.PrivateFormat.TraditionalOpenSSL,
               "pkcs8": serialization.PrivateFormat.PKCS8, "pkcs8-encrypted": serialization.PrivateFormat.PKCS8,
               "openssh": serialization.PrivateFormat.OpenSSH,
               "openssh-ed25519": serialization.PrivateFormat.OpenSSH}[kind]
        enc = serialization.BestAvailableEncryption(b"pw") if kind == "pkcs8-encrypted" \
            else serialization.NoEncryption()
        _KEYS[kind] = key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode()
    pem = _KEYS[kind].strip()
    return pem.replace("\n", "\r\n") if rng.random() < 0.2 else pem


KINDS = {
    "credit_card": card, "us_ssn": ssn, "email": email, "phone": phone, "iban": iban,
    "ip_address": lambda rng: ipv4(rng) if rng.random() < 0.5 else ipv6(rng),
    "aws_key": aws_key, "github_token": github_token, "slack_token": slack_token, "jwt": jwt,
    "private_key": private_key,
}


def uuid(rng):
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def invalid_ssn(rng):
    a, g, s = ssn_parts(rng)
    which = rng.randrange(5)
    a = ["000", "666", str(rng.randint(900, 999)), a, a][which]
    g = "00" if which == 3 else g
    s = "0000" if which == 4 else s
    return f"{a}-{g}-{s}"


ID_KEYS = ["order_id", "count", "hotel_id", "total_tokens", "customer_number", "latency_us"]
LOOKALIKES = {
    "numeric_id": lambda rng: str(rng.randint(10**6, 10**10)),
    # Digit groups in the shapes of national numbers: prices, thousands, short ids.
    "grouped_number": lambda rng: rng.choice([
        f"{rng.randint(1, 9)} {digits(rng, 3)} {digits(rng, 3)}", f"{rng.randint(1, 9)}.{digits(rng, 3)}.{digits(rng, 3)}",
        f"{digits(rng, 3)} {digits(rng, 3)}", f"1{digits(rng, 3)} {digits(rng, 4)}", f"{rng.randint(10, 99)} {digits(rng, 3)}",
        f"{rng.randint(1, 9)}{digits(rng, 2)}.{digits(rng, 3)}.{digits(rng, 3)}"]),
    "luhn_failing": lambda rng: card(rng, valid=False),
    "invalid_ssn": invalid_ssn,
    "timestamp": lambda rng: rng.choice([
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
        f"{rng.randint(0, 59):02d}Z",
        f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
        f"{rng.randint(0, 59):02d}",
        str(1700000000 + rng.randrange(10**8)), str(1700000000000 + rng.randrange(10**11)),
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{digits(rng, 3)}"]),
    "date": lambda rng: rng.choice([
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2023",
        f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2022", f"2021{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"]),
    "order_id": lambda rng: rng.choice([
        f"ORD-2024-{digits(rng, 6)}", f"PO-{digits(rng, 10)}", f"INV{digits(rng, 8)}", f"#{digits(rng, 9)}",
        f"order {digits(rng, 12)}", f"SO-{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 4)}",
        f"{digits(rng, 4)}-{digits(rng, 4)}-{digits(rng, 4)}"]),
    "uuid": uuid,
    "version": lambda rng: rng.choice([
        f"{rng.randint(0, 20)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}", f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        f"{rng.randint(1, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}-rc.{rng.randint(1, 5)}", f"llama-3.{rng.randint(1, 3)}-8b",
        f"10.0.{rng.randint(17000, 22631)}.{rng.randint(100, 4000)}",
        f"version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}",
        f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}-beta"]),
    "hash": lambda rng: "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice([7, 40, 64]))),
    "amount": lambda rng: rng.choice([f"${rng.randint(1, 99)},{digits(rng, 3)}.{digits(rng, 2)}",
                                      f"{rng.randint(1, 9999)}.{digits(rng, 2)} EUR", f"{digits(rng, 7)} units"]),
}

NUMBER_KEYS = {"credit_card": ["card_number", "pan", "cc"], "us_ssn": ["ssn", "social_security_number", "SSN"],
               "phone": ["phone", "mobilePhone", "phone_number", "tel", "msisdn"]}
VALUE_KEYS = {"credit_card": ["card", "payment_card"], "us_ssn": ["ssn", "tax_id"], "email": ["email", "contact"],
              "phone": ["phone", "mobile"], "iban": ["iban", "account"], "ip_address": ["client_ip", "addr"],
              "aws_key": ["access_key_id"], "github_token": ["token"], "slack_token": ["slack"], "jwt": ["bearer"],
              "private_key": ["tls_key", "pem"]}
PROSE = ("the customer asked about the invoice and the assistant looked up the account before "
         "answering with a short summary of the last three orders and the shipping status").split()


def prose(rng, value, label=""):
    words = [rng.choice(PROSE) for _ in range(rng.randint(4, 14))]
    at = rng.randrange(len(words) + 1)
    intro = {"credit_card": ["card", "paid with", "PAN:"],
             "us_ssn": ["SSN", "social security number", "SS#", "Social:", "her social is", "ssn:", "SOCIAL SECURITY"],
             "phone": ["call", "phone:", "tel."], "email": ["email", "write to", "contact:"]}.get(label, [""])
    lead = rng.choice(intro)
    value = rng.choice([value, f"({value})", f"{value}.", f"{value},", f"<{value}>" if label == "email" else value])
    if lead and lead[-1] == ":" and rng.random() < 0.3:  # `PAN:4111…`
        lead, value = lead + value, ""
    words[at:at] = [w for w in (lead, value) if w]
    return " ".join(words)


class Corpus:
    """Planted values and look-alikes, and the documents that carry them. Each document or
    streamed answer comes with its labels: (kind, value, must_survive)."""

    def __init__(self, seed, per_kind=60):
        self.rng = random.Random(seed)
        self.values = {kind: [gen(self.rng) for _ in range(per_kind)] for kind, gen in KINDS.items()}
        self.lookalikes = {kind: [gen(self.rng) for _ in range(per_kind)] for kind, gen in LOOKALIKES.items()}

    def json_documents(self):
        """One document per value, in the shapes model servers answer with."""
        rng = self.rng
        docs = []
        for kind, values in self.values.items():
            for value in values:
                doc, planted = self.carrier(kind, value)
                docs.append((doc, [(kind, planted, False)]))
        # Numbers under names that say what they are not (ids, counts): they stay numbers.
        for value in self.lookalikes["numeric_id"]:
            docs.append((record(rng, rng.choice(ID_KEYS), int(value)), [("numeric_id", value, True)]))
        for kind, values in self.lookalikes.items():
            for value in values if kind != "numeric_id" else []:
                text = prose(rng, value)
                doc = [chat_completion(rng, text), kserve(rng, [text]), record(rng, "notes", text)][rng.randrange(3)]
                docs.append((doc, [(kind, value, True)]))
        rng.shuffle(docs)
        return docs

    def carrier(self, kind, value):
        """A document carrying `value`, and the value as it is written there."""
        rng = self.rng
        shape = rng.randrange(5)
        if shape == 0:
            return chat_completion(rng, prose(rng, value, kind)), value
        if shape == 1:
            args = {rng.choice(VALUE_KEYS[kind]): value, "note": prose(rng, value, kind)} \
                if rng.random() < 0.5 else {"query": prose(rng, value, kind)}
            return chat_completion(rng, "", tool_args=args), value
        if shape == 2:
            return kserve(rng, [prose(rng, value, kind), rng.choice(PROSE)]), value
        if shape == 3:
            return record(rng, rng.choice(VALUE_KEYS[kind]), value), value
        if kind in NUMBER_KEYS and value.lstrip("+(")[:1] != "0":
            # written as a JSON number, or as bare digits under its name
            text = "".join(filter(str.isdigit, value))
            return record(rng, rng.choice(NUMBER_KEYS[kind]), int(text) if rng.random() < 0.7 else text), text
        return record(rng, "notes", prose(rng, value, kind)), value

    def streamed_answers(self, per_answer=12):
        """Long answers carrying many values, to be streamed a few characters per event."""
        rng = self.rng
        planted = [(kind, v, False) for kind, vs in self.values.items() for v in vs] + \
            [(kind, v, True) for kind, vs in self.lookalikes.items() for v in vs]
        rng.shuffle(planted)
        answers = []
        for i in range(0, len(planted), per_answer):
            labels = planted[i:i + per_answer]
            text = " ".join(prose(rng, v, "" if keep else kind) for kind, v, keep in labels)
            answers.append((text, labels))
        return answers


def chat_completion(rng, content, tool_args=None):
    message = {"role": "assistant", "content": content}
    if tool_args is not None:
        message["content"] = None
        message["tool_calls"] = [{"id": f"call_{rng.randrange(10**6)}", "type": "function",
                                  "function": {"name": "lookup_customer", "arguments": json.dumps(tool_args)}}]
    return {"id": f"chatcmpl-{rng.randrange(10**9)}", "object": "chat.completion", "created": 1715000000,
            "model": "llama-3.1-8b", "choices": [{"index": 0, "message": message,
                                                  "finish_reason": "tool_calls" if tool_args else "stop"}],
            "usage": {"prompt_tokens": 57, "completion_tokens": 31, "total_tokens": 88}}


def kserve(rng, rows):
    return {"model_name": "extractor", "model_version": "2", "id": f"req-{rng.randrange(10**6)}",
            "outputs": [{"name": "text_output", "datatype": "BYTES", "shape": [len(rows)], "data": rows},
                        {"name": "score", "datatype": "FP32", "shape": [1], "data": [round(rng.random(), 3)]}]}


def record(rng, key, value):
    return {"record": {"id": f"CUST-{rng.randrange(10**6):06d}", "updated": "2024-05-01T10:30:00Z",
                       "profile": {"name": "redacted by test", key: value, "tier": rng.choice(["gold", "basic"])},
                       "history": [{"order_id": f"ORD-{rng.randrange(10**8)}", "total": round(rng.random() * 900, 2)}]}}


# OpenAI chat (content, tool-call arguments), legacy completions, the Responses API and
# Anthropic Messages (SSE), and Ollama's NDJSON.
STREAM_MODES = ("content", "tool_call", "completion", "responses", "anthropic", "ollama")


def sse_stream(rng, answer, mode="content", most=8):
    """An OpenAI-compatible stream of `answer`, a few characters per event: as a chat
    completion's content, as a tool call's arguments (JSON text), or as a legacy completion."""
    if mode in ("responses", "anthropic", "ollama"):
        return other_stream(rng, answer, mode, most)
    events, i = [], 0
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1715000000, "model": "m"}
    text = answer
    if mode == "tool_call":
        text = json.dumps({"note": answer}, ensure_ascii=rng.random() < 0.5)
    if mode == "completion":
        head["object"] = "text_completion"

    def piece(part):
        if mode == "completion":
            return {"index": 0, "text": part, "finish_reason": None}
        if mode == "tool_call":
            return {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}}
        return {"index": 0, "delta": {"content": part}, "finish_reason": None}

    if mode == "tool_call":
        events.append({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "save_note", "arguments": ""}}]}}]})
    else:
        events.append({**head, "choices": [piece("")]})
    while i < len(text):
        n = rng.randint(1, most)
        events.append({**head, "choices": [piece(text[i:i + n])]})
        i += n
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def pieces_of(text, rng, most):
    """`text` cut into pieces of 1 to `most` characters."""
    i, out = 0, []
    while i < len(text):
        n = rng.randint(1, most)
        out.append(text[i:i + n])
        i += n
    return out


def other_stream(rng, answer, mode, most):
    """`answer` as a Responses API, Anthropic Messages or Ollama NDJSON stream."""
    parts = pieces_of(answer, rng, most)
    if mode == "ollama":
        lines = [{"model": "m", "created_at": "2026-12-07T10:00:00Z", "message": {"role": "assistant", "content": p},
                  "done": False} for p in parts]
        lines.append({"model": "m", "created_at": "2026-12-07T10:00:01Z", "message": {"role": "assistant", "content": ""},
                      "done": True, "done_reason": "stop"})
        return "".join(json.dumps(x) + "\n" for x in lines)
    if mode == "responses":
        where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
        events = [("response.output_text.delta", {**where, "delta": p}) for p in parts]
        events += [("response.output_text.done", {**where, "text": "[whole text]"}),
                   ("response.completed", {"response": {"id": "resp_1", "status": "completed"}})]
    else:
        events = [("message_start", {"message": {"id": "msg_1", "role": "assistant", "content": []}}),
                  ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
        events += [("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}}) for p in parts]
        events += [("content_block_stop", {"index": 0}), ("message_stop", {})]
    return "".join(f"event: {name}\ndata: {json.dumps({'type': name, **fields})}\n\n" for name, fields in events)


def stream_format(mode):
    """The `postern mask --format` for a stream mode."""
    return "ndjson" if mode == "ollama" else "sse"


def sse_content(text, mode="content"):
    """What a client reassembles from the stream (a tool call's arguments decoded)."""
    if mode == "ollama":
        return "".join(json.loads(line)["message"]["content"] for line in text.splitlines() if line.strip())
    if mode == "responses":
        return "".join(json.loads(line[6:]).get("delta", "") for line in text.splitlines()
                       if line.startswith("data: {") and '"response.output_text.delta"' in line)
    if mode == "anthropic":
        return "".join(json.loads(line[6:]).get("delta", {}).get("text", "") for line in text.splitlines()
                       if line.startswith("data: {") and '"content_block_delta"' in line)
    pieces = []
    for line in text.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                if mode == "completion":
                    pieces.append(choice.get("text") or "")
                for call in choice.get("delta", {}).get("tool_calls") or []:
                    pieces.append(call.get("function", {}).get("arguments") or "")
                if mode == "content":
                    pieces.append(choice.get("delta", {}).get("content") or "")
    whole = "".join(pieces)
    if mode == "tool_call":
        try:
            return json.loads(whole)["note"]
        except (ValueError, KeyError, TypeError):
            return whole
    return whole


def strings_of(node):
    """Every string and number in a JSON value, JSON inside strings opened up too."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings_of(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings_of(v)
    elif isinstance(node, str):
        yield node
        if node[:1] in "{[":
            try:
                yield from strings_of(json.loads(node))
            except ValueError:
                pass
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield str(node)


def survives(value, haystack):
    """The value is still readable in the output."""
    return value in haystack


def evaluate(corpus, mask):
    """Runs the corpus through `mask(format, bytes) -> bytes` and counts, per kind, how many
    planted values were masked and how many look-alikes were left intact, in JSON documents
    and in streamed answers. Returns {kind: [hits, total]} and the misses."""
    results, misses = {}, []

    def judge(labels, haystack, where):
        for kind, value, keep in labels:
            ok = survives(value, haystack) == keep
            tally = results.setdefault(f"{where}:{kind}", [0, 0])
            tally[0] += ok
            tally[1] += 1
            if not ok:
                misses.append((where, kind, value, haystack if len(haystack) < 400 else haystack[:400] + "…"))

    documents = corpus.json_documents()
    masked = json.loads(mask("json", json.dumps([doc for doc, _ in documents]).encode()))
    for (doc, labels), out in zip(documents, masked):
        judge(labels, "\n".join(strings_of(out)), "json_number" if has_int(doc) else "json")
    for n, (text, labels) in enumerate(corpus.streamed_answers()):
        mode = STREAM_MODES[n % len(STREAM_MODES)]
        out = mask(stream_format(mode), sse_stream(corpus.rng, text, mode).encode()).decode()
        judge(labels, sse_content(out, mode), mode)
    return results, misses


def has_int(node):
    """The document holds its planted value as a JSON integer (`record(..., int(...))`)."""
    profile = node.get("record", {}).get("profile", {}) if isinstance(node, dict) else {}
    return any(isinstance(v, int) and not isinstance(v, bool) for v in profile.values())


def postern_mask(binary, config):
    """`mask(format, bytes) -> bytes` for evaluate(): `postern mask` with `config`."""
    def mask(fmt, data):
        done = subprocess.run([str(binary), "mask", "--config", str(config), "--format", fmt],
                              input=data, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout
    return mask
