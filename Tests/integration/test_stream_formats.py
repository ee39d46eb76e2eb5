"""Streaming formats beyond OpenAI chat, masked on the wire with values split across events:
the OpenAI Responses API (openai client), Anthropic Messages (anthropic client), Ollama's
NDJSON (ollama client) and TGI's token stream; streams no format describes, per policy; and
a format an operator describes in the configuration."""
import json

import anthropic
import ollama
import openai
import pytest

from conftest import curl
from test_masking import MASKED, PLANTED, SECRETS

POLICIES = ("{ default: { detectors: all }, "
            "strict: { detectors: all, unknown_streams: refuse }, "
            "acme: { detectors: all, unknown_streams: refuse, stream_formats: [{ name: acme, "
            "match: { $.object: acme.chunk }, texts: [{ path: $.piece.text, key: [$.slot] }], "
            "ends: [{ when: { $.last: true }, key: [$.slot] }] }] } }")


@pytest.fixture
def postern(start_postern, model_server, tmp_path):
    """Every caller proves a short-lived JWT-SVID (`postern.token`), as in production."""
    from identity_material import Keys, make_svids, mint
    keys = Keys(make_svids(tmp_path / "identity"))
    p = start_postern(upstreams={"model": model_server}, public=False,
                      routes=[("/strict/", "model"), ("/acme/", "model"), ("/", "model")],
                      masking=POLICIES, route_masking={"/strict/": "strict", "/acme/": "acme"},
                      identity="{ trust_domain: example.org, jwt_issuers: [{ kind: jwt-svid, "
                               f"bundle: {keys.svid_jwks}, audience: 'spiffe://example.org/postern' }}] }}")
    p.token = mint(keys.svid_key)
    return p


def bearer(postern):
    return ["-H", f"authorization: Bearer {postern.token}"]


def assert_nothing_leaked(raw):
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    for part in [b"ann.", b"lee@", b"AKIA", b"6789"]:
        assert part not in raw, part


def test_the_openai_client_streams_a_masked_responses_api_answer(postern):
    client = openai.OpenAI(base_url=f"{postern.url}/v1", api_key=postern.token, max_retries=0)
    events = list(client.responses.create(model="m", input=f"repeat: {PLANTED}", stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == MASKED
    done = next(e for e in events if e.type == "response.output_text.done")
    completed = next(e for e in events if e.type == "response.completed")
    assert done.text == MASKED and completed.response.output[0].content[0].text == MASKED
    entry = postern.request_log(entries=1)[-1]
    assert entry["outcome"] == "ok" and entry["masked"]["credit_card"] >= 1 and "masked_per_event" not in entry


@pytest.mark.parametrize("protocol", [[], ["--http2-prior-knowledge"]], ids=["http1", "h2c"])
def test_no_part_of_a_split_value_reaches_the_caller_in_any_format(postern, protocol):
    for path in ["/v1/responses", "/v1/messages", "/api/chat", "/generate_stream"]:
        body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": f"repeat: {PLANTED}"}]})
        status, _, raw = curl(*protocol, *bearer(postern), "-H", "content-type: application/json", "--data-binary", body,
                              f"{postern.url}{path}")
        assert status == 200, path
        assert_nothing_leaked(raw)


def test_the_anthropic_client_streams_a_masked_message(postern):
    client = anthropic.Anthropic(base_url=postern.url, auth_token=postern.token, max_retries=0)
    with client.messages.stream(model="m", max_tokens=100,
                                messages=[{"role": "user", "content": f"repeat: {PLANTED}"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == MASKED and final.content[0].text == MASKED and final.stop_reason == "end_turn"


def test_the_ollama_client_streams_a_masked_chat(postern):
    client = ollama.Client(host=postern.url, headers={"authorization": f"Bearer {postern.token}"})
    parts = list(client.chat(model="m", messages=[{"role": "user", "content": f"repeat: {PLANTED}"}], stream=True))
    assert "".join(p.message.content for p in parts) == MASKED
    assert parts[-1].done


def test_tgi_tokens_are_masked_and_the_generated_text_too(postern):
    body = json.dumps({"inputs": "x", "messages": [{"role": "user", "content": f"repeat: {PLANTED}"}]})
    status, headers, raw = curl(*bearer(postern), "-H", "content-type: application/json", "--data-binary", body,
                                f"{postern.url}/generate_stream")
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in raw.decode().splitlines() if line.startswith("data:")]
    assert "".join(e["token"]["text"] for e in events) == MASKED
    assert [e["generated_text"] for e in events if e["generated_text"]] == [MASKED]


def sse_echo(postern, path, events):
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
    return curl(*bearer(postern), "-H", "content-type: text/event-stream", "--data-binary", "@-", f"{postern.url}{path}", input=body)


UNKNOWN = [{"chunk": "mail ann.lee@exa"}, {"chunk": "mple.com now"}]


def test_a_stream_no_format_describes_is_masked_per_event_and_the_record_says_so(postern):
    status, _, raw = sse_echo(postern, "/echo", UNKNOWN)
    assert status == 200
    entry = postern.request_log(entries=1)[-1]
    assert entry["masked_per_event"] == 2 and entry["outcome"] == "ok"


def test_a_policy_that_refuses_undescribed_streams_cuts_them(postern):
    with pytest.raises(RuntimeError):  # curl: the stream ends in an error, not a clean end
        sse_echo(postern, "/strict/echo", [{"chunk": "card 4111 1111 1111 1111"}])
    entry = postern.request_log(entries=1)[-1]
    assert entry["outcome"] == "masking_failed" and "no stream format describes" in entry["detail"]


def test_an_operator_describes_a_format_and_its_split_values_are_caught(postern):
    pieces = ["card 4111 ", "1111 1111", " 1111 and", " mail ann.lee@", "example.com ok"]
    events = [{"object": "acme.chunk", "slot": 0, "last": i == len(pieces) - 1, "piece": {"text": p}}
              for i, p in enumerate(pieces)]
    status, _, raw = sse_echo(postern, "/acme/echo", events)
    assert status == 200
    assert_nothing_leaked(raw)
    got = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert "".join(e["piece"]["text"] for e in got) == "card [CREDIT_CARD] and mail [EMAIL] ok"
    assert "masked_per_event" not in postern.request_log(entries=1)[-1]
