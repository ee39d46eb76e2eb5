"""The examples as a user runs them: examples/kserve/postern.yaml in front of a real KServe
ModelServer, called by tritonclient over HTTP and gRPC with short-lived JWT-SVIDs from the
quickstart's development key. The functions split holds: inference callers infer and cannot
load a model at all, the deployer's load waits for the on-call approver, the monitoring
identity reads health."""
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from conftest import POSTERN, ROOT, admin_api, free_port, share_with_postern, unprivileged
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


@pytest.fixture
def example(kserve, tmp_path):  # noqa: F811
    """The example's configuration, its ports moved to free ones and its files found where
    the example keeps them."""
    rest, grpc_url = kserve
    port, admin = free_port(), free_port()
    text = (EXAMPLE / "postern.yaml").read_text()
    text = (text.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("127.0.0.1:9901", f"127.0.0.1:{admin}")
            .replace('"http://127.0.0.1:8000"', f'"{rest}"').replace('"h2c://127.0.0.1:8001"', f'"{grpc_url}"')
            .replace("../quickstart/", f"{ROOT}/examples/quickstart/").replace("credentials/", f"{EXAMPLE}/credentials/")
            .replace("[inference.protoset]", f"[{EXAMPLE}/inference.protoset]"))
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
    yield types.SimpleNamespace(target=f"127.0.0.1:{port}", admin=f"http://127.0.0.1:{admin}", log=log)
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


def test_the_example_configuration_passes_postern_check():
    out = subprocess.run([str(POSTERN), "check", "postern.yaml"], capture_output=True, text=True, cwd=EXAMPLE)
    assert out.returncode == 0, out.stderr
