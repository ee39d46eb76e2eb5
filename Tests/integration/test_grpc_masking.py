"""gRPC masking on the wire: grpcio callers of a Triton-style inference service through
Postern, with the policy's protobuf types from a descriptor set protoc wrote."""
import subprocess
import struct

import grpc
import pytest

import triton_mock
from conftest import POSTERN

PLANTED = ["card 4111 1111 1111 1111", "mail ann.lee@example.com", "nothing here"]
MASKED = ["echo: card [CREDIT_CARD]", "echo: mail [EMAIL]", "echo: nothing here"]
INFER = f"/{triton_mock.SERVICE}/ModelInfer"
STREAM = f"/{triton_mock.SERVICE}/ModelStreamInfer"


@pytest.fixture(scope="module")
def proto(tmp_path_factory):
    return triton_mock.compile_protos(tmp_path_factory.mktemp("protos"))


@pytest.fixture(scope="module")
def triton(proto):
    url, server = triton_mock.start(proto[0])
    yield url
    server.stop(grace=None)


@pytest.fixture
def guarded(start_postern, triton, proto, grpc_server):
    masking = (f"{{ default: {{ detectors: all, descriptor_sets: ['{proto[1]}'] }}, "
               f"lenient: {{ detectors: all, on_unparseable: pass, descriptor_sets: ['{proto[1]}'] }} }}")
    p = start_postern(upstreams={"triton": triton, "echo": grpc_server},
                      routes=[(f"/{triton_mock.SERVICE}/", "triton"), ("/postern.test.Echo/Peer", "echo"), ("/", "echo")],
                      masking=masking, route_masking={"/postern.test.Echo/Peer": "lenient"})
    channel = grpc.insecure_channel(p.target, options=triton_mock.OPTIONS)
    yield p, channel
    channel.close()


def infer(proto, channel):
    return channel.unary_unary(INFER, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=proto[0].ModelInferResponse.FromString)


def test_a_triton_answer_is_masked_field_by_field(guarded, proto):
    p, channel = guarded
    response = infer(proto, channel)(triton_mock.request(proto[0], PLANTED), timeout=10)
    assert triton_mock.elements_of(response.raw_output_contents[0]) == [m.encode() for m in MASKED]
    assert struct.unpack("<4f", response.raw_output_contents[1]) == (0.5, 1.5, 2.5, 3.5)  # FP32 untouched
    assert list(response.outputs[2].contents.bytes_contents) == [m.encode() for m in MASKED]
    assert response.parameters["note"].string_param == "reply to [EMAIL]"
    assert response.parameters["count"].int64_param == 3
    assert response.operator_note == "[OPERATOR_NOTE]"  # debug_redact
    assert response.model_name == "echo" and [o.name for o in response.outputs] == ["text", "scores", "tokens"]
    entry = p.request_log(entries=1)[-1]
    assert entry["grpc_status"] == "0"
    assert entry["masked"] == {"credit_card": 2, "email": 3, "custom": 1}


def test_a_stream_of_large_messages_is_reassembled_and_masked(guarded, proto):
    _, channel = guarded
    big = "x" * (3 << 19) + " ssn 123-45-6789"  # 3 MiB messages, over many DATA frames
    call = channel.stream_stream(STREAM, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=proto[0].ModelStreamInferResponse.FromString)
    requests = [triton_mock.request(proto[0], [text], id=str(i)) for i, text in enumerate([big, *PLANTED])]
    answers = list(call(iter(requests), timeout=30))
    texts = [triton_mock.elements_of(a.infer_response.raw_output_contents[0])[0].decode() for a in answers]
    assert texts[0].endswith("x ssn [US_SSN]") and len(texts[0]) == 6 + (3 << 19) + 13
    assert texts[1:] == MASKED
    assert [a.infer_response.id for a in answers] == ["0", "1", "2", "3"]


def test_an_llm_token_stream_never_sends_part_of_a_split_value(guarded, proto):
    """ModelStreamInfer from a TensorRT-LLM or vLLM backend: `text_output` four characters
    per message. The answer a client assembles is masked, and no message holds a piece."""
    p, channel = guarded
    call = channel.stream_stream(STREAM, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=proto[0].ModelStreamInferResponse.FromString)
    planted = "card 4111 1111 1111 1111, mail ann.lee@example.com, call 079 123 45 67 ok"
    answers = list(call(iter([triton_mock.request(proto[0], [planted], id="tokens-1")]), timeout=30))
    pieces = [triton_mock.elements_of(a.infer_response.raw_output_contents[0])[0].decode()
              for a in answers if a.infer_response.raw_output_contents]
    assert "".join(pieces) == "card [CREDIT_CARD], mail [EMAIL], call [PHONE] ok"
    for piece in pieces:
        assert not any(part in piece for part in ("4111", "1111", "ann.", "lee@", "079", "45 67")), piece
    # What was held is released before the request's final response, which stays last.
    assert answers[-1].infer_response.parameters["triton_final_response"].bool_param
    assert not answers[-1].infer_response.raw_output_contents
    entry = p.request_log(entries=1)[-1]
    assert entry["grpc_status"] == "0" and entry["masked"] == {"credit_card": 1, "email": 1, "phone": 1}


def test_a_truncated_answer_ends_the_call_with_internal(guarded, proto):
    p, channel = guarded
    with pytest.raises(grpc.RpcError) as failed:
        infer(proto, channel)(triton_mock.request(proto[0], ["x"], id="garbage"), timeout=10)
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "truncated or malformed protobuf" in failed.value.details()
    entry = p.request_log(entries=1)[-1]
    assert entry["outcome"] == "masking_failed" and entry["grpc_status"] == "13"


def test_a_method_outside_the_descriptor_sets_fails_closed_unless_the_policy_passes(guarded):
    _, channel = guarded
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/postern.test.Echo/Unary")(b"ann@example.com", timeout=10)
    assert refused.value.code() == grpc.StatusCode.INTERNAL
    assert "/postern.test.Echo/Unary is not in its descriptor sets" in refused.value.details()
    assert channel.unary_unary("/postern.test.Echo/Peer")(b"", timeout=10).startswith(b"ipv4:127.0.0.1")


def test_a_message_compressed_anyway_is_inflated_and_masked(start_postern, proto):
    import h2_misbehaving_server
    port, listener = h2_misbehaving_server.start()
    try:
        p = start_postern(upstreams={"raw": f"h2c://127.0.0.1:{port}"},
                          masking=f"{{ default: {{ detectors: all, descriptor_sets: ['{proto[1]}'] }} }}")
        # The misbehaving upstream answers with the request's message, gzip-compressed.
        planted = proto[0].ModelInferResponse(model_name="card 4111 1111 1111 1111").SerializeToString()
        with grpc.insecure_channel(p.target) as channel:
            answer, call = channel.unary_unary(INFER).with_call(planted, timeout=10)
        assert proto[0].ModelInferResponse.FromString(answer).model_name == "card [CREDIT_CARD]"
        assert p.request_log(entries=1)[-1]["masked"] == {"credit_card": 1}
    finally:
        listener.close()


def test_postern_mask_reads_grpc_frames_and_single_messages(tmp_path, proto):
    config = tmp_path / "p.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\nmasking: { default: { detectors: all } }\n")
    response = triton_mock.answer(proto[0], triton_mock.request(proto[0], PLANTED)).SerializeToString()
    args = [str(POSTERN), "mask", "--config", str(config), "--descriptor-set", str(proto[1]),
            "--message-type", "inference.ModelInferResponse"]
    one = subprocess.run(args + ["--format", "protobuf"], input=response, capture_output=True)
    assert one.returncode == 0, one.stderr
    masked = proto[0].ModelInferResponse.FromString(one.stdout)
    assert triton_mock.elements_of(masked.raw_output_contents[0]) == [m.encode() for m in MASKED]
    framed = subprocess.run(args + ["--format", "grpc"], input=(b"\0" + struct.pack(">I", len(response)) + response) * 2,
                            capture_output=True)
    assert framed.returncode == 0 and framed.stdout == (b"\0" + struct.pack(">I", len(one.stdout)) + one.stdout) * 2
    bad = subprocess.run(args + ["--format", "protobuf"], input=response[:-3], capture_output=True)
    assert bad.returncode == 1 and b"truncated or malformed protobuf" in bad.stderr
    unknown = subprocess.run(args[:-1] + ["no.Such", "--format", "grpc"], input=b"", capture_output=True)
    assert unknown.returncode == 1 and b"no message type 'no.Such'" in unknown.stderr


def test_postern_check_refuses_a_descriptor_set_that_does_not_decode(tmp_path):
    (tmp_path / "bad.pb").write_bytes(b"\x0a\x05\x01")
    config = tmp_path / "p.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\n"
                      "masking: { default: { descriptor_sets: [bad.pb] } }\n")
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True)
    assert out.returncode == 1 and "masking.default.descriptor_sets" in out.stderr
    assert "is not a FileDescriptorSet" in out.stderr
