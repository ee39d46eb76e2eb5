"""/metrics as Prometheus sees it: the exposition passes Debian's `promtool check metrics`,
and a real Prometheus server scrapes it and answers queries on Postern's series."""
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import free_port, wait_for_port
from test_audit import audited, call


def scrape(p):
    with urllib.request.urlopen(p.admin + "/metrics", timeout=5) as reply:
        return reply.read().decode()


@pytest.fixture
def busy(start_postern, model_server, tmp_path):
    p = audited(start_postern, model_server, tmp_path)
    for _ in range(5):
        call(p, "/v1/models")
    call(p, "/nowhere")
    return p


def test_the_exposition_passes_promtool(busy):
    text = scrape(busy)
    for family in ("postern_requests_total", "postern_request_duration_seconds_bucket", "postern_audit_sink_up",
                   "postern_audit_checkpoint_age_seconds", "postern_approvals", "postern_credentials_generation"):
        assert family in text
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every request so far is counted in exactly one latency bucket series.
    served = [line for line in text.splitlines()
              if line.startswith("postern_request_duration_seconds_count") and 'status="200"' in line]
    assert served and float(served[0].split()[-1]) == 5


def test_a_real_prometheus_scrapes_postern(busy, tmp_path):
    if not shutil.which("prometheus"):
        pytest.skip("Debian's prometheus is not installed (scripts/setup installs it)")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global: {{ scrape_interval: 1s, scrape_timeout: 1s }}
scrape_configs:
  - job_name: postern
    static_configs: [{{ targets: ["127.0.0.1:{busy.admin_port}"] }}]
""")
    server = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        deadline = time.time() + 30
        while True:  # the port opens before the storage is ready (503 until then)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.time() < deadline, "Prometheus never became ready"
                time.sleep(0.2)

        def query(expression):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
            with urllib.request.urlopen(url, timeout=5) as reply:
                return json.loads(reply.read())["data"]["result"]

        deadline = time.time() + 20
        while not query('up{job="postern"} == 1'):
            assert time.time() < deadline, "Prometheus never scraped Postern"
            time.sleep(0.3)
        served = query('sum(postern_requests_total{status="200"})')
        assert float(served[0]["value"][1]) == 5
        assert float(query("postern_audit_sink_up")[0]["value"][1]) == 1
        p99 = query("histogram_quantile(0.99, sum by (le) (postern_request_duration_seconds_bucket))")
        assert 0 < float(p99[0]["value"][1]) < 1
    finally:
        server.terminate()
        server.wait(timeout=10)
