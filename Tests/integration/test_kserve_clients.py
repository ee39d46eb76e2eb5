"""tritonclient (HTTP and gRPC) through Postern to a real KServe ModelServer: answers pass,
and every error Postern itself gives (401, 404, 502, 400 and their gRPC statuses) is one
the Open Inference Protocol clients can read: `{"error": "message"}`, not an object."""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from conftest import POSTERN, curl, free_port
from identity_material import mint

KSERVE_MODEL = Path(__file__).parent / "kserve_model.py"
# kserve reads a body without this type as binary tensor data.
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def kserve():
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, str(KSERVE_MODEL), "--http-port", str(http_port),
                             "--grpc-port", str(grpc_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v2/health/ready", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.time() < deadline, "kserve did not start"
        time.sleep(0.2)
    yield f"http://127.0.0.1:{http_port}", f"h2c://127.0.0.1:{grpc_port}"
    proc.terminate()
    proc.wait()


@pytest.fixture
def guarded(start_postern, kserve, keys):
    rest, grpc_url = kserve
    return start_postern(upstreams={"rest": rest, "grpc": grpc_url, "down": f"http://127.0.0.1:{free_port()}"},
                         routes=[("/inference.GRPCInferenceService/", "grpc", False), ("/v2/health/", "rest", True),
                                 ("/v2/models/", "rest", False), ("/v2/down/", "down", False)],
                         identity="{ trust_domain: example.org, jwt_issuers: [{ kind: jwt-svid, "
                                  f"bundle: {keys.svid_jwks}, audience: 'spiffe://example.org/postern' }}] }}")


POLICY = """
functions:
  inference: { callers: ['spiffe://example.org/ns/app/*'] }
  telemetry: { callers: [spiffe://example.org/ns/monitoring/sa/prometheus] }
rules:
  - { name: no-secret-models, effect: deny, models: ['secret-*'] }
guards:
  - { name: v2-parameters, operations: [infer, ModelInfer], bounds: { parameters.temperature: { max: 1 } } }
"""


@pytest.fixture
def authorized(start_postern, kserve, keys):
    rest, grpc_url = kserve
    return start_postern(upstreams={"rest": rest, "grpc": grpc_url},
                         routes=[("/inference.GRPCInferenceService/", "grpc", False), ("/v2/health/", "rest", True),
                                 ("/", "rest", False)],
                         identity="{ trust_domain: example.org, jwt_issuers: [{ kind: jwt-svid, "
                                  f"bundle: {keys.svid_jwks}, audience: 'spiffe://example.org/postern' }}] }}",
                         extra=POLICY)


def token_headers(keys):
    return {"authorization": f"Bearer {mint(keys.svid_key)}"}


def text_input(module, values):
    tensor = module.InferInput("text", [len(values)], "BYTES")
    if module is triton_http:
        tensor.set_data_from_numpy(np.array(values, dtype=object), binary_data=False)
    else:
        tensor.set_data_from_numpy(np.array(values, dtype=object))
    return tensor


def test_tritonclient_http_infers_through_postern(guarded, keys):
    client = triton_http.InferenceServerClient(guarded.target)
    assert client.is_server_ready()  # the public health route
    result = client.infer("echo", [text_input(triton_http, [b"hi", b"there"])],
                          outputs=[triton_http.InferRequestedOutput("text", binary_data=False)],
                          headers={**JSON, **token_headers(keys)})
    assert list(result.as_numpy("text")) == ["echo: hi", "echo: there"]


def test_tritonclient_grpc_infers_through_postern(guarded, keys):
    client = triton_grpc.InferenceServerClient(guarded.target)
    result = client.infer("echo", [text_input(triton_grpc, [b"hi"])], headers=token_headers(keys))
    assert list(result.as_numpy("text")) == [b"echo: hi"]
    assert client.is_model_ready("echo", headers=token_headers(keys))


@pytest.mark.parametrize("case", ["no_token", "bad_token", "no_route", "upstream_down", "bad_path"])
def test_postern_errors_reach_tritonclient_http_as_messages(guarded, keys, case):
    client = triton_http.InferenceServerClient(guarded.target)
    headers = {"no_token": {}, "bad_token": {"authorization": "Bearer not-a-token"}}.get(case, token_headers(keys))
    model = {"no_route": "../other", "upstream_down": "../down/x", "bad_path": "..%2f..%2fv1"}.get(case, "echo")
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata(model, headers=headers)
    status, text = raised.value.status(), str(raised.value)  # str() broke on a nested error object
    expected = {"no_token": ("401", "no credential"), "bad_token": ("401", "compact form"),
                "no_route": ("404", "no route"), "upstream_down": ("502", "down"),
                "bad_path": ("400", "path refused")}[case]
    assert status == expected[0] and expected[1] in text, text


def test_open_inference_errors_carry_code_and_request_id_as_members(guarded):
    status, headers, body = curl(f"{guarded.url}/v2/models/echo")
    error = json.loads(body)
    assert status == 401 and isinstance(error["error"], str) and error["code"] == "unauthenticated"
    assert error["request_id"] == headers["x-request-id"]
    # OpenAI paths keep the OpenAI-compatible nested object.
    status, _, body = curl(f"{guarded.url}/v1/models")
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthenticated"


def test_postern_errors_reach_tritonclient_grpc_as_statuses(guarded, keys):
    client = triton_grpc.InferenceServerClient(guarded.target)
    with pytest.raises(InferenceServerException) as raised:
        client.infer("echo", [text_input(triton_grpc, [b"hi"])])
    assert raised.value.status() == "StatusCode.UNAUTHENTICATED" and "no credential" in str(raised.value)
    channel = grpc.insecure_channel(guarded.target)
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/inference.Other/Method")(b"", timeout=10, metadata=list(token_headers(keys).items()))
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_tritonclient_with_functions_rules_and_a_guard(authorized, keys):
    """Both tritonclients through an enforcing Postern: the model named in the path (REST)
    or in the message (gRPC) meets the rules; the guard reads the REST body's parameters."""
    rest, grpc_client = triton_http.InferenceServerClient(authorized.target), triton_grpc.InferenceServerClient(authorized.target)
    headers = token_headers(keys)
    for client in (rest, grpc_client):
        module = triton_http if client is rest else triton_grpc
        extra = {"outputs": [triton_http.InferRequestedOutput("text", binary_data=False)], "headers": {**JSON, **headers}} \
            if client is rest else {"headers": headers}
        result = client.infer("echo", [text_input(module, [b"hi"])], **extra)
        assert [v if isinstance(v, str) else v.decode() for v in result.as_numpy("text")] == ["echo: hi"]
        with pytest.raises(InferenceServerException) as raised:
            client.infer("secret-echo", [text_input(module, [b"hi"])], **extra)
        assert "no-secret-models" in str(raised.value)
        assert raised.value.status() in ("403", "StatusCode.PERMISSION_DENIED")
    # The guard: KServe v2 parameters in the JSON body.
    with pytest.raises(InferenceServerException) as raised:
        rest.infer("echo", [text_input(triton_http, [b"hi"])], parameters={"temperature": 2},
                   outputs=[triton_http.InferRequestedOutput("text", binary_data=False)], headers={**JSON, **headers})
    assert raised.value.status() == "400" and "parameters.temperature must be at most 1" in str(raised.value)
    with pytest.raises(InferenceServerException) as raised:
        grpc_client.infer("echo", [text_input(triton_grpc, [b"hi"])], parameters={"temperature": 2.0}, headers=headers)
    assert raised.value.status() == "StatusCode.INVALID_ARGUMENT" and "parameters.temperature" in str(raised.value)
    assert grpc_client.infer("echo", [text_input(triton_grpc, [b"hi"])], parameters={"temperature": 0.5},
                             headers=headers).as_numpy("text")[0] == b"echo: hi"
    # Readiness is telemetry: the inference caller may not ask, the telemetry caller may.
    with pytest.raises(InferenceServerException):
        grpc_client.is_model_ready("echo", headers=headers)
    prometheus = {"authorization": f"Bearer {mint(keys.svid_key, sub='spiffe://example.org/ns/monitoring/sa/prometheus')}"}
    assert grpc_client.is_model_ready("echo", headers=prometheus) and rest.is_model_ready("echo", headers=prometheus)
    entries = authorized.request_log(entries=8)
    assert {e["model"] for e in entries if e.get("operation") == "ModelInfer"} == {"echo", "secret-echo"}


PLANTED = [b"card 4111 1111 1111 1111", b"mail ann.lee@example.com today", b"nothing here"]


@pytest.mark.parametrize("binary_in", [True, False], ids=["binary-in", "json-in"])
@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
def test_tritonclient_http_answers_are_masked_in_binary_tensors_and_json(start_postern, kserve, keys, tmp_path,
                                                                           binary_in, binary_out):
    """tritonclient.http's default, binary tensor data, through a masked route: the BYTES
    elements are masked and relengthed, the FP32 tensor comes back bit for bit."""
    from test_audit import audited, log_files
    rest, _ = kserve
    p = audited(start_postern, None, tmp_path, settings=", recordings: { max_exchange_bytes: 1048576 }",
                upstreams={"rest": rest}, routes=[("/v2/models/", "rest", False)], masking="{ default: { detectors: all } }",
                identity="{ trust_domain: example.org, jwt_issuers: [{ kind: jwt-svid, "
                         f"bundle: {keys.svid_jwks}, audience: 'spiffe://example.org/postern' }}] }}")
    client = triton_http.InferenceServerClient(p.target)
    text = triton_http.InferInput("text", [len(PLANTED)], "BYTES")
    text.set_data_from_numpy(np.array(PLANTED, dtype=object), binary_data=binary_in)
    numbers = np.array([1.5, -2.25, 3.0e-7], dtype=np.float32)
    x = triton_http.InferInput("x", [3], "FP32")
    x.set_data_from_numpy(numbers, binary_data=binary_in)
    outputs = [triton_http.InferRequestedOutput(name, binary_data=binary_out) for name in ("text", "x")]
    headers = token_headers(keys) if binary_in else {**JSON, **token_headers(keys)}
    result = client.infer("echo", [text, x], outputs=outputs, headers=headers)
    got = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("text")]
    assert got == ["echo: card [CREDIT_CARD]", "echo: mail [EMAIL] today", "echo: nothing here"]
    assert result.as_numpy("x").tobytes() == (numbers * 2).tobytes()
    entry = p.request_log(entries=1)[-1]
    assert entry["outcome"] == "ok" and entry["masked"] == {"credit_card": 1, "email": 1}, entry
    # The recording holds the request masked too (binary inputs read like binary outputs), and
    # sent again to the model server it is still a request KServe reads, answered the same.
    p.stop()
    recordings = (p.audit_dir / "recordings.jsonl").read_text()
    assert "4111" not in recordings and "ann.lee" not in recordings
    replay = subprocess.run([str(POSTERN), "audit", "replay", entry["request_id"], *log_files(p), "--key", p.verifier,
                             "--to", rest.removeprefix("http://")], capture_output=True, text=True)
    assert replay.returncode == 0 and replay.stdout.startswith("same: status 200"), replay.stdout + replay.stderr
