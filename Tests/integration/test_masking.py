"""Masking on the wire: JSON and SSE answers from an OpenAI-compatible model server, the
openai client streaming through Postern, fail-closed refusals, and `postern mask`."""
import json
import subprocess

import grpc
import openai
import pytest

from conftest import POSTERN, curl

PLANTED = "card 4111 1111 1111 1111, mail ann.lee@example.com, ssn 123-45-6789, key AKIAIOSFODNN7EXAMPLE"
SECRETS = ["4111", "ann.lee", "123-45", "AKIAIOSFODNN7EXAMPLE"]
MASKED = "card [CREDIT_CARD], mail [EMAIL], ssn [US_SSN], key [AWS_KEY]"

POLICIES = ("{ default: { detectors: all }, "
            "lenient: { detectors: all, on_unparseable: pass }, "
            "fields: { detectors: [email], fields: [{ key: [role], action: redact }] } }")


@pytest.fixture
def masked(start_postern, model_server, grpc_server):
    """Postern with the default policy on every route but the explicitly unmasked ones."""
    return start_postern(
        upstreams={"model": model_server, "grpc": grpc_server},
        routes=[("/postern.test.Echo/", "grpc"), ("/raw/", "model"), ("/", "model")],
        masking=POLICIES, route_masking={"/raw/": "none"})


def chat(p, text, **extra):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"repeat: {text}"}], **extra})
    return curl("-H", "content-type: application/json", "--data-binary", body, f"{p.url}/v1/chat/completions")


def test_a_json_answer_is_masked_and_the_log_counts_it(masked):
    status, headers, body = chat(masked, PLANTED)
    assert status == 200 and "content-length" not in headers or int(headers["content-length"]) == len(body)
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["content"] == MASKED
    assert answer["usage"]["total_tokens"] == 10
    entry = masked.request_log(entries=1)[-1]
    assert entry["masked"] == {"aws_key": 1, "credit_card": 1, "email": 1, "us_ssn": 1}


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_an_sse_stream_is_masked_even_when_values_are_split_across_events(masked, protocol):
    status, headers, body = chat(masked, PLANTED, stream=True)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    pieces = []
    for line in body.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                pieces.append(choice["delta"].get("content", ""))
    assert "".join(pieces) == MASKED
    for piece in pieces:
        assert not any(secret[:4] in piece for secret in SECRETS if secret[:4] != "card"), piece
    assert body.decode().rstrip().endswith("data: [DONE]")


def test_the_openai_client_streams_a_masked_chat_completion(start_postern, model_server, tmp_path):
    """The caller's api_key is a short-lived JWT-SVID; the answer comes back masked."""
    from identity_material import Keys, make_svids, mint
    keys = Keys(make_svids(tmp_path / "identity"))
    p = start_postern(upstreams={"model": model_server}, public=False, masking=POLICIES,
                      identity="{ trust_domain: example.org, jwt_issuers: [{ kind: jwt-svid, "
                               f"bundle: {keys.svid_jwks}, audience: 'spiffe://example.org/postern' }}] }}")
    client = openai.OpenAI(base_url=f"{p.url}/v1", api_key=mint(keys.svid_key), max_retries=0)
    stream = client.chat.completions.create(model="m", stream=True,
                                            messages=[{"role": "user", "content": f"repeat: {PLANTED}"}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == MASKED
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"repeat: {PLANTED}"}])
    assert reply.choices[0].message.content == MASKED
    entries = p.request_log(entries=2)
    assert all(e["auth"] == "jwt-svid" and e["masked"]["credit_card"] == 1 for e in entries)
    # The client closes right after [DONE], before the upstream's end: still a finished exchange.
    assert [e["outcome"] for e in entries] == ["ok", "ok"], entries
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{p.url}/v1", api_key="sk-a-standing-key", max_retries=0).models.list()


@pytest.mark.parametrize("content_type,body,reason", [
    ("application/json", b'{"answer": "ann@example.com", "truncated', "response could not be masked"),
    ("application/json", b"<html>oops</html>", "response could not be masked"),
    ("application/octet-stream", b"\x00\x01ann@example.com", "cannot mask content type 'application/octet-stream'"),
])
def test_a_response_that_cannot_be_masked_is_not_passed(masked, content_type, body, reason):
    status, _, answer = curl("-H", f"content-type: {content_type}", "--data-binary", "@-", f"{masked.url}/echo",
                             input=body)
    assert status == 502
    error = json.loads(answer)["error"]
    assert error["code"] == "masking_failed" and reason in error["message"]
    assert b"ann@example.com" not in answer
    entry = masked.request_log(entries=1)[-1]
    assert entry["outcome"] == "masking_failed" and reason in entry["detail"]


@pytest.mark.parametrize("code", [200, 307, 404, 500])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_empty_answer_keeps_its_status_on_a_masked_route(masked, code, framing):
    status, headers, body = curl(f"{masked.url}/status?code={code}&framing={framing}")
    assert status == code and body == b""
    if code == 307:
        assert headers["location"] == "/v1/models"
    assert masked.request_log(entries=1)[-1]["outcome"] == "ok"


def test_a_head_request_on_a_masked_route_keeps_its_status(masked):
    status, headers, body = curl("-I", f"{masked.url}/v1/models")
    assert status == 501 and body == b""


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_answer_with_bytes_and_no_type_still_fails_closed(masked, framing):
    status, _, body = curl(f"{masked.url}/status?code=200&framing={framing}&body=ann@example.com")
    assert status == 502 and b"ann@example.com" not in body
    assert "cannot mask content type ''" in json.loads(body)["error"]["message"]


def test_routes_without_masking_and_lenient_policies_pass_what_they_cannot_mask(start_postern, model_server):
    p = start_postern(upstreams={"model": model_server}, routes=[("/v1/", "model"), ("/", "model")],
                      masking=POLICIES, route_masking={"/v1/": "none", "/": "lenient"})
    status, _, body = chat(p, PLANTED)
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"] == PLANTED
    status, _, body = curl("-H", "content-type: application/octet-stream", "--data-binary", "x ann@example.com",
                           f"{p.url}/echo")
    assert status == 200 and body == b"x ann@example.com"


def test_plain_text_is_masked_as_it_streams(masked):
    status, _, body = curl("-H", "content-type: text/plain", "--data-binary", PLANTED, f"{masked.url}/echo")
    assert status == 200 and body.decode() == MASKED


def test_a_compressed_answer_is_refused(masked):
    status, _, body = curl(f"{masked.url}/gzip")
    assert status == 502 and "gzip-encoded" in json.loads(body)["error"]["message"]


def test_grpc_on_a_masked_route_fails_closed_without_descriptor_sets(masked):
    channel = grpc.insecure_channel(masked.target)
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/postern.test.Echo/Unary")(b"ann@example.com", timeout=10)
    assert refused.value.code() == grpc.StatusCode.INTERNAL and "no descriptor_sets" in refused.value.details()


def test_postern_mask_command(tmp_path):
    config = tmp_path / "p.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\n"
                      f"masking: {POLICIES}\n")
    document = json.dumps({"choices": [{"message": {"role": "assistant", "content": PLANTED}}], "n": 4111111111111111})
    out = subprocess.run([str(POSTERN), "mask", "--config", str(config)], input=document, capture_output=True, text=True)
    assert out.returncode == 0
    masked = json.loads(out.stdout)
    assert masked["choices"][0]["message"]["content"] == MASKED and masked["n"] == "[CREDIT_CARD]"
    fields = subprocess.run([str(POSTERN), "mask", "--config", str(config), "--policy", "fields"], input=document,
                            capture_output=True, text=True)
    assert json.loads(fields.stdout)["choices"][0]["message"]["role"] == "[ROLE]"
    bad = subprocess.run([str(POSTERN), "mask", "--config", str(config)], input='{"a": [1,', capture_output=True, text=True)
    assert bad.returncode == 1 and "ends early" in bad.stderr
