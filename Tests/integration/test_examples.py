"""The examples as a user runs them, with short-lived JWT-SVIDs from the quickstart's
development key. examples/kserve/postern.yaml in front of a real KServe ModelServer, called
by tritonclient over HTTP and gRPC: inference callers infer and cannot load a model at all,
the deployer's load waits for the on-call approver, the monitoring identity reads health.
examples/embeddings: a real embedding model (all-MiniLM-L6-v2) behind Postern, called by the
openai client, masking on, the vectors exactly what the model server computed."""
import base64
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import openai
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from conftest import POSTERN, ROOT, admin_api, curl, free_port, share_with_postern, unprivileged
from test_kserve_clients import kserve  # noqa: F401 (the module's KServe ModelServer fixture)

EXAMPLE = ROOT / "examples" / "kserve"
MINT = ROOT / "examples" / "quickstart" / "mint-dev-token"
TD = "spiffe://quickstart.local"


def token(sub):
    return subprocess.run([sys.executable, str(MINT), "--sub", sub], capture_output=True, text=True,
                          check=True).stdout.strip()


def bearer(sub):
    """Headers for each call: tritonclient.http adds its own to the dict it is given."""
    value = f"Bearer {token(sub)}"

    class Fresh(dict):
        def __call__(self):
            return {"authorization": value}
    return Fresh()


def run_example(directory, tmp_path, upstreams):
    """Postern with `directory`'s postern.yaml, its ports moved to free ones, its upstream
    URLs replaced (`upstreams`: as written -> as started), its files found where the example
    keeps them."""
    port, admin = free_port(), free_port()
    text = (directory / "postern.yaml").read_text()
    text = (text.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("127.0.0.1:9901", f"127.0.0.1:{admin}")
            .replace("../quickstart/", f"{ROOT}/examples/quickstart/").replace("credentials/", f"{directory}/credentials/")
            .replace("[inference.protoset]", f"[{directory}/inference.protoset]"))
    for written, started in upstreams.items():
        text = text.replace(f'"{written}"', f'"{started}"')
    config = tmp_path / "postern.yaml"
    config.write_text(text)
    share_with_postern(tmp_path)
    log = tmp_path / "postern.log"
    proc = subprocess.Popen(unprivileged([str(POSTERN), "run", "--config", str(config)]),
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"), env={"POSTERN_STATE_DIR": str(tmp_path)})
    deadline = time.time() + 15
    while "listening on" not in log.read_text():
        assert proc.poll() is None and time.time() < deadline, log.read_text()
        time.sleep(0.05)
    return proc, types.SimpleNamespace(target=f"127.0.0.1:{port}", url=f"http://127.0.0.1:{port}",
                                       admin=f"http://127.0.0.1:{admin}", log=log)


@pytest.fixture
def example(kserve, tmp_path):  # noqa: F811
    rest, grpc_url = kserve
    proc, running = run_example(EXAMPLE, tmp_path, {"http://127.0.0.1:8000": rest, "h2c://127.0.0.1:8001": grpc_url})
    yield running
    proc.terminate()
    proc.wait(timeout=30)


EMBEDDINGS = ROOT / "examples" / "embeddings"


@pytest.fixture(scope="module")
def embeddings_server():
    port = free_port()
    credentials = EMBEDDINGS / "credentials"
    proc = subprocess.Popen([sys.executable, str(EMBEDDINGS / "server.py"), "--port", str(port),
                             "--upstream-token-file", str(credentials / "inference-token"),
                             "--upstream-token-file", str(credentials / "telemetry-token")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert "embeddings on" in proc.stdout.readline()
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait()


def as_vectors(reply):
    """float lists, or base64 float32 as the client hands them over when asked for them."""
    return np.array([np.frombuffer(base64.b64decode(d.embedding), dtype=np.float32) if isinstance(d.embedding, str)
                     else d.embedding for d in reply.data], dtype=np.float32)


SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome.",
             "Write to ann.lee@example.com about card 4111 1111 1111 1111."]


def test_the_openai_client_embeds_through_postern_and_the_vectors_are_the_models(embeddings_server, tmp_path):
    proc, p = run_example(EMBEDDINGS, tmp_path, {"http://127.0.0.1:8000": embeddings_server})
    try:
        app = token(f"{TD}/ns/apps/sa/search")
        through = openai.OpenAI(base_url=f"{p.url}/v1", api_key=app, max_retries=0)
        direct = openai.OpenAI(base_url=f"{embeddings_server}/v1", max_retries=0,
                               api_key=(EMBEDDINGS / "credentials" / "inference-token").read_text().strip())
        for encoding in ("float", "base64"):
            got = through.embeddings.create(model="all-MiniLM-L6-v2", input=SENTENCES, encoding_format=encoding)
            want = direct.embeddings.create(model="all-MiniLM-L6-v2", input=SENTENCES, encoding_format=encoding)
            vectors, expected = as_vectors(got), as_vectors(want)
            assert vectors.shape == (4, 384)
            assert np.array_equal(vectors, expected), encoding
        # A real model: similar sentences are near, unrelated ones are not.
        similarity = vectors @ vectors.T
        assert similarity[0, 1] > 0.6 > 0.2 > similarity[0, 2]
        # The caller's token never reaches the server (it takes only the functions' own), and a
        # standing key is refused by Postern.
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{p.url}/v1", api_key="sk-standing-key", max_retries=0).embeddings.create(
                model="all-MiniLM-L6-v2", input="hi")
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{embeddings_server}/v1", api_key=app, max_retries=0).embeddings.create(
                model="all-MiniLM-L6-v2", input="hi")
        # Telemetry reads health and may not embed.
        prometheus = token(f"{TD}/ns/monitoring/sa/prometheus")
        assert curl("-H", f"authorization: Bearer {prometheus}", f"{p.url}/health")[0] == 200
        with pytest.raises(openai.PermissionDeniedError):
            openai.OpenAI(base_url=f"{p.url}/v1", api_key=prometheus, max_retries=0).embeddings.create(
                model="all-MiniLM-L6-v2", input="hi")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def text_input(module, values):
    tensor = module.InferInput("text", [len(values)], "BYTES")
    tensor.set_data_from_numpy(np.array(values, dtype=object))
    return tensor


def test_inference_callers_infer_over_http_and_grpc_and_cannot_load(example):
    app = bearer(f"{TD}/ns/apps/sa/chat")
    http, grpc = triton_http.InferenceServerClient(example.target), triton_grpc.InferenceServerClient(example.target)
    answer = http.infer("echo", [text_input(triton_http, [b"mail ann@example.com"])], headers=app())
    assert [v.decode() if isinstance(v, bytes) else v for v in answer.as_numpy("text")] == ["echo: mail [EMAIL]"]
    assert grpc.infer("echo", [text_input(triton_grpc, [b"hi"])], headers=app()).as_numpy("text")[0] == b"echo: hi"
    for client in (http, grpc):
        with pytest.raises(InferenceServerException) as refused:
            client.load_model("llama", headers=app())
        assert refused.value.status() in ("403", "StatusCode.PERMISSION_DENIED"), str(refused.value)


def test_a_deployers_load_waits_for_the_approver_then_kserve_loads_the_model(example):
    deployer = bearer(f"{TD}/ns/mlops/sa/deployer")
    http = triton_http.InferenceServerClient(example.target)
    with pytest.raises(InferenceServerException) as held:
        http.load_model("llama", headers=deployer())
    assert held.value.status() == "403" and "approval" in str(held.value)
    approval = re.search(r"(apr-[\w-]+)", str(held.value)).group(1)
    # The deployer cannot approve their own request; the on-call approver can.
    oncall = token(f"{TD}/ns/sre/sa/oncall")
    status, _ = admin_api(example, token(f"{TD}/ns/mlops/sa/deployer"), "POST",
                          f"/admin/v1/approvals/{approval}/approve", {"reason": "self"})
    assert status in (401, 403)
    status, decided = admin_api(example, oncall, "POST", f"/admin/v1/approvals/{approval}/approve",
                                {"reason": "release 42"})
    assert status == 200, decided
    http.load_model("llama", headers=deployer())  # the same request, on its grant: KServe loads it
    app = bearer(f"{TD}/ns/apps/sa/chat")
    answer = http.infer("llama", [text_input(triton_http, [b"hi"])], headers=app())
    assert [v.decode() if isinstance(v, bytes) else v for v in answer.as_numpy("text")] == ["echo: hi"]
    # The grant was for one load: a second one waits again.
    with pytest.raises(InferenceServerException) as again:
        http.load_model("llama", headers=deployer())
    assert again.value.status() == "403"


def test_the_monitoring_identity_reads_health_and_nothing_else(example):
    prometheus = bearer(f"{TD}/ns/monitoring/sa/prometheus")
    http = triton_http.InferenceServerClient(example.target)
    assert http.is_server_ready(headers=prometheus()) and http.is_model_ready("echo", headers=prometheus())
    with pytest.raises(InferenceServerException) as refused:
        http.infer("echo", [text_input(triton_http, [b"hi"])], headers=prometheus())
    assert refused.value.status() == "403"


@pytest.mark.parametrize("directory", [EXAMPLE, ROOT / "examples" / "embeddings"], ids=lambda d: d.name)
def test_the_example_configuration_passes_postern_check(directory):
    out = subprocess.run([str(POSTERN), "check", "postern.yaml"], capture_output=True, text=True, cwd=directory)
    assert out.returncode == 0, out.stderr
