"""Functions and authorization on the wire: every request on a private route is classified
by the built-in profiles (or the operator's own operations) and decided by a named rule;
callers of one function cannot reach another's operations."""
import json
import threading

import grpc
import pytest

from conftest import curl
from identity_material import mint

TD = "spiffe://example.org"
WEB, DEPLOYER, PROMETHEUS, READER = (f"{TD}/ns/app/sa/web", f"{TD}/ns/mlops/sa/deployer",
                                     f"{TD}/ns/monitoring/sa/prometheus", f"{TD}/ns/data/sa/reader")
POLICY = f"""
operations:
  - {{ methods: [POST], path: /echo, function: data-access, name: retrieve }}
functions:
  inference: {{ callers: ['{TD}/ns/app/*'] }}
  deployment: {{ callers: ['{DEPLOYER}'] }}
  telemetry: {{ callers: ['{PROMETHEUS}'] }}
  data-access: {{ callers: ['{READER}'] }}
rules:
  - {{ name: no-secret-models, effect: deny, models: ['secret-*'] }}
  - {{ name: deployments-need-approval, effect: approval, functions: [deployment] }}
shadow_rules:
  - {{ name: no-chat-from-app, effect: deny, namespaces: [app], operations: [chat_completions] }}
guards:
  - {{ name: cool-streams, operations: [ModelStreamInfer], bounds: {{ parameters.temperature: {{ max: 1 }} }} }}
"""


@pytest.fixture
def guarded(start_postern, model_server, grpc_server, keys):
    return start_postern(upstreams={"model": model_server, "grpc": grpc_server},
                         routes=[("/inference.GRPCInferenceService/", "grpc", False), ("/v2/health/", "model", True),
                                 ("/", "model", False)],
                         tls=keys.tls_yaml(), identity=keys.identity_yaml(), extra=POLICY)


def call(p, keys, caller, path, *args):
    return curl("--cacert", str(keys.dir / "ca-example.org.pem"), "-H",
                f"authorization: Bearer {mint(keys.svid_key, sub=caller)}", *args, f"{p.url}{path}")


def chat_body():
    return ["-H", "content-type: application/json", "--data-binary",
            json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})]


def test_a_caller_of_a_function_reaches_its_operations(guarded, keys):
    status, _, body = call(guarded, keys, WEB, "/v1/chat/completions", *chat_body())
    assert status == 200 and json.loads(body)["object"] == "chat.completion"
    entry = guarded.request_log(entries=1)[-1]
    assert entry["function"] == "inference" and entry["operation"] == "chat_completions"
    assert entry["decision"] == "allow" and entry["rule"] == "functions.inference.callers"
    # The shadow rule set would have refused it: logged, not enforced.
    assert entry["shadow_decision"] == "deny" and entry["shadow_rule"] == "no-chat-from-app"


def test_shadow_rules_never_change_the_answer(guarded, keys):
    assert call(guarded, keys, WEB, "/v1/models")[0] == 200
    entry = guarded.request_log(entries=1)[-1]
    assert entry["decision"] == "allow" and entry["shadow_decision"] == "allow"


@pytest.mark.parametrize("caller,path,args", [
    (WEB, "/v1/load_lora_adapter", ["--data-binary", "{}"]),       # inference caller, deployment operation
    (PROMETHEUS, "/v1/chat/completions", chat_body()),             # telemetry caller, inference operation
    (READER, "/v1/models", []),                                     # data-access caller, inference operation
    (f"{TD}/ns/application/sa/web", "/v1/models", []),             # not under ns/app/
])
def test_callers_outside_a_function_are_denied_with_the_reason(guarded, keys, caller, path, args):
    status, _, body = call(guarded, keys, caller, path, *args)
    error = json.loads(body)["error"]
    assert status == 403 and error["code"] == "permission_denied" and caller in error["message"]
    entry = guarded.request_log(entries=1)[-1]
    assert entry["decision"] == "deny" and entry["rule"] == "default-deny" and entry["outcome"] == "denied"


def test_a_deny_rule_beats_the_function_and_the_dialect_follows_the_path(guarded, keys):
    status, _, body = call(guarded, keys, WEB, "/v2/models/secret-weights/infer", "--data-binary", "{}")
    error = json.loads(body)
    assert status == 403 and isinstance(error["error"], str) and "no-secret-models" in error["error"]
    entry = guarded.request_log(entries=1)[-1]
    assert entry["model"] == "secret-weights" and entry["rule"] == "no-secret-models"


def test_a_deployment_waits_for_approval(guarded, keys):
    status, _, body = call(guarded, keys, DEPLOYER, "/v2/repository/models/llama/load", "--data-binary", "{}")
    assert status == 403 and json.loads(body)["code"] == "approval_required"
    assert guarded.request_log(entries=1)[-1]["decision"] == "needs_approval"


def test_operator_operations_and_telemetry(guarded, keys):
    status, _, body = call(guarded, keys, READER, "/echo", "--data-binary", "rows")
    assert status == 200 and body == b"rows"
    assert call(guarded, keys, WEB, "/echo", "--data-binary", "rows")[0] == 403
    status, _, body = call(guarded, keys, PROMETHEUS, "/metrics")
    assert status == 404 and json.loads(body)["path"] == "/metrics"  # allowed, and the model server has none
    # Public routes serve anyone, as before.
    assert curl("--cacert", str(keys.dir / "ca-example.org.pem"), f"{guarded.url}/v2/health/ready")[0] == 200


def test_requests_no_profile_knows_are_not_found(guarded, keys):
    status, _, body = call(guarded, keys, WEB, "/admin/secrets")
    assert status == 404 and json.loads(body)["error"]["code"] == "no_route"


def test_grpc_methods_are_classified_and_denied_with_permission_denied(guarded, keys):
    root = (keys.dir / "ca-example.org.pem").read_bytes()
    channel = grpc.secure_channel(guarded.target, grpc.ssl_channel_credentials(root),
                                  options=[("grpc.ssl_target_name_override", "localhost")])
    metadata = [("authorization", f"Bearer {mint(keys.svid_key, sub=WEB)}")]
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/inference.GRPCInferenceService/RepositoryModelLoad")(b"", timeout=10, metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Allowed, and answered by the echo server behind it.
    assert channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(b"", timeout=10, metadata=metadata) == b""


# --- each function's own upstream credential --------------------------------------------

def credential_policy(tmp_path, header=""):
    (tmp_path / "inference-token").write_text("inference-secret-1\n")
    (tmp_path / "reader-key").write_text("reader-secret\n")
    return f"""
operations:
  - {{ methods: [GET], path: /headers, function: inference, name: headers }}
  - {{ methods: [POST], path: /echo, function: data-access, name: retrieve }}
functions:
  inference:
    callers: ['{TD}/ns/app/*']
    upstream_credential: {{ file: {tmp_path / 'inference-token'} }}
  data-access:
    callers: ['{READER}']
    upstream_credential: {{ file: {tmp_path / 'reader-key'}, header: x-api-key }}
"""


@pytest.fixture
def with_credentials(start_postern, model_server, keys, tmp_path):
    return start_postern(upstreams={"model": model_server}, routes=[("/", "model", False)],
                         tls=keys.tls_yaml(), identity=keys.identity_yaml(), extra=credential_policy(tmp_path))


def test_the_function_credential_replaces_the_callers(with_credentials, keys):
    status, _, body = call(with_credentials, keys, WEB, "/headers", "-H", "x-api-key: caller-key")
    seen = json.loads(body)
    assert status == 200 and seen["authorization"] == "Bearer inference-secret-1"
    assert "x-api-key" not in seen  # another function's header, from the caller: dropped
    status, headers, body = call(with_credentials, keys, READER, "/echo", "--data-binary", "rows")
    assert status == 200 and headers["x-echo-authorization"] == ""  # the reader's token stopped at Postern
    log = json.dumps(with_credentials.request_log(entries=2))
    assert "inference-secret" not in log and "reader-secret" not in log


def test_a_rotated_credential_is_used_without_a_restart(with_credentials, keys, tmp_path):
    import os
    import time
    fresh = tmp_path / "inference-token.new"
    fresh.write_text("inference-secret-2\n")
    os.chmod(fresh, 0o644)
    os.replace(fresh, tmp_path / "inference-token")  # as a Secret volume swaps its files
    deadline = time.time() + 10
    while time.time() < deadline:
        seen = json.loads(call(with_credentials, keys, WEB, "/headers")[2])
        if seen["authorization"] == "Bearer inference-secret-2":
            break
        time.sleep(0.1)
    assert seen["authorization"] == "Bearer inference-secret-2"


def test_an_unreadable_credential_fails_that_function_closed(with_credentials, keys, tmp_path):
    import time
    (tmp_path / "reader-key").unlink()
    deadline = time.time() + 10
    while time.time() < deadline:
        status, _, body = call(with_credentials, keys, READER, "/echo", "--data-binary", "rows")
        if status == 503:
            break
        time.sleep(0.1)
    error = json.loads(body)["error"]
    assert status == 503 and error["code"] == "upstream_credential_unavailable" and "reader-key" not in error["message"]
    assert call(with_credentials, keys, WEB, "/headers")[0] == 200  # the other function is unaffected
    entry = [e for e in with_credentials.request_log(entries=3) if e["status"] == 503][-1]
    assert "reader-key" in entry["detail"] and "no such file" in entry["detail"]


def test_a_credential_file_shared_by_two_functions_is_refused(tmp_path):
    import subprocess
    from conftest import POSTERN
    (tmp_path / "token").write_text("t\n")
    config = tmp_path / "c.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\nfunctions:\n"
                      f"  inference: {{ callers: ['{WEB}'], upstream_credential: {{ file: {tmp_path / 'token'} }} }}\n"
                      f"  deployment: {{ callers: ['{DEPLOYER}'], upstream_credential: {{ file: {tmp_path / 'token'} }} }}\n")
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True)
    assert out.returncode == 1 and "deployment and inference share the upstream credential" in out.stderr


def test_postern_explain_prints_the_decision(tmp_path):
    import subprocess
    from conftest import POSTERN
    config = tmp_path / "c.yaml"
    config.write_text("upstreams: { m: { url: 'http://127.0.0.1:1' } }\n" + POLICY)
    out = subprocess.run([str(POSTERN), "explain", "--config", str(config), "--caller", WEB, "--method", "POST",
                          "--path", "/v1/load_lora_adapter"], capture_output=True, text=True)
    answer = json.loads(out.stdout)
    assert out.returncode == 0 and answer["operation"]["function"] == "deployment"
    assert answer["decision"]["outcome"] == "deny" and answer["decision"]["rule"] == "default-deny"


def test_rules_on_headers_and_source_addresses(start_postern, model_server, keys):
    policy = f"""
functions:
  inference: {{ callers: ['{TD}/ns/app/*'] }}
rules:
  - {{ name: embeddings-need-prod-label, effect: deny, operations: [embeddings], sources: [127.0.0.0/8] }}
  - {{ name: tenant-may-embed, effect: allow, operations: [models], headers: {{ x-env: [prod] }} }}
"""
    p = start_postern(upstreams={"model": model_server}, routes=[("/", "model", False)],
                      tls=keys.tls_yaml(), identity=keys.identity_yaml(), extra=policy)
    status, _, body = call(p, keys, WEB, "/v1/embeddings", "--data-binary", "{}")
    assert status == 403 and "embeddings-need-prod-label" in json.loads(body)["error"]["message"]  # from 127.0.0.1
    outsider = f"{TD}/ns/other/sa/x"
    assert call(p, keys, outsider, "/v1/models")[0] == 403
    assert call(p, keys, outsider, "/v1/models", "-H", "x-env: prod")[0] == 200
    assert p.request_log(entries=3)[-1]["rule"] == "tenant-may-embed"


def test_oidc_groups_name_callers(start_postern, model_server, keys):
    from identity_material import OIDC_ISSUER
    identity = ("{ trust_domain: example.org, jwt_issuers: [{ kind: oidc, issuer: '" + OIDC_ISSUER + "', "
                f"jwks: {keys.oidc_jwks}, audience: postern, identity_claim: email, groups_claim: groups }}] }}")
    p = start_postern(upstreams={"model": model_server}, routes=[("/", "model", False)], tls=keys.tls_yaml(),
                      identity=identity, extra="functions: { inference: { callers: ['group:ml-users'] } }")

    def as_user(email, groups):
        token = mint(keys.oidc_key, kid="idp-1", alg="RS256", sub=email, aud="postern", iss=OIDC_ISSUER,
                     email=email, groups=groups)
        return curl("--cacert", str(keys.dir / "ca-example.org.pem"), "-H", f"authorization: Bearer {token}",
                    f"{p.url}/v1/models")[0]

    assert as_user("ann@example.com", ["staff", "ml-users"]) == 200
    assert as_user("bob@example.com", ["staff"]) == 403
    assert as_user("group:ml-users", []) == 403


def infer_request(model, version="", temperature=None):
    from tritonclient.grpc import service_pb2
    request = service_pb2.ModelInferRequest(model_name=model, model_version=version, id="1")
    if temperature is not None:
        request.parameters["temperature"].double_param = temperature
    return request.SerializeToString()


def grpc_channel(p, keys):
    root = (keys.dir / "ca-example.org.pem").read_bytes()
    return grpc.secure_channel(p.target, grpc.ssl_channel_credentials(root),
                               options=[("grpc.ssl_target_name_override", "localhost")])


def test_the_model_a_grpc_message_names_meets_the_rules(guarded, keys):
    infer = grpc_channel(guarded, keys).unary_unary("/inference.GRPCInferenceService/ModelInfer")
    metadata = [("authorization", f"Bearer {mint(keys.svid_key, sub=WEB)}")]
    assert infer(infer_request("open"), timeout=10, metadata=metadata) == infer_request("open")
    with pytest.raises(grpc.RpcError) as refused:
        infer(infer_request("secret-weights", "2"), timeout=10, metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED and "no-secret-models" in refused.value.details()
    entry = guarded.request_log(entries=2)[-1]
    assert entry["model"] == "secret-weights" and entry["model_version"] == "2" and entry["rule"] == "no-secret-models"
    # A field given twice is its last value to the model server, and so to Postern.
    with pytest.raises(grpc.RpcError) as refused:
        infer(infer_request("open") + infer_request("secret-weights"), timeout=10, metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as refused:
        infer(b"\x0a\xff", timeout=10, metadata=metadata)  # a length past the end
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_each_message_of_a_stream_is_decided_on_the_model_it_names(guarded, keys):
    stream = grpc_channel(guarded, keys).stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")
    metadata = [("authorization", f"Bearer {mint(keys.svid_key, sub=WEB)}")]
    answers, answered = [], threading.Semaphore(0)

    def requests():  # one message at a time, each once the last was answered
        for model in ["open", "open", "secret-weights", "open"]:
            yield infer_request(model)
            answered.acquire(timeout=5)

    with pytest.raises(grpc.RpcError) as refused:
        for answer in stream(requests(), timeout=10, metadata=metadata):
            answers.append(answer)
            answered.release()
    assert answers == [infer_request("open")] * 2
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED and "secret-weights" in refused.value.details()


def test_a_guard_reads_every_message_of_a_stream(guarded, keys):
    stream = grpc_channel(guarded, keys).stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")
    metadata = [("authorization", f"Bearer {mint(keys.svid_key, sub=WEB)}")]
    answers, answered = [], threading.Semaphore(0)

    def requests():
        for temperature in [0.2, 0.9, 5.0, 0.1]:
            yield infer_request("open", temperature=temperature)
            answered.acquire(timeout=5)

    with pytest.raises(grpc.RpcError) as refused:
        for answer in stream(requests(), timeout=10, metadata=metadata):
            answers.append(answer)
            answered.release()
    assert len(answers) == 2
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parameters.temperature must be at most 1" in refused.value.details()


@pytest.mark.parametrize("spelling,status", [
    ("/v1/models/../load_lora_adapter", 403),      # a dot segment
    ("/v1/%6Coad_lora_adapter", 403),              # an escaped unreserved letter
    ("/V1/Load_LoRA_Adapter", 403),                # case
    ("//v1///load_lora_adapter", 403),             # repeated slashes
    ("/v1/load_lora_adapter%2F", 400),             # an encoded slash: refused outright
    ("/v1/models%2F..%2Fload_lora_adapter", 400),
])
def test_spellings_of_a_deployment_route_are_classified_as_one(guarded, keys, spelling, status):
    """An inference caller cannot reach a deployment operation by spelling its path otherwise."""
    got, _, body = call(guarded, keys, WEB, spelling, "--path-as-is", "--data-binary", "{}")
    assert got == status, body
    entry = guarded.request_log(entries=1)[-1]
    if status == 403:
        assert entry["operation"] == "load_lora_adapter" and entry["function"] == "deployment"
    else:
        assert entry["outcome"] == "bad_path"
