"""The Helm chart, offline: every scenario in charts/postern/ci renders (helm-python-sdk:
Helm v4 as a library, no binary, no cluster), validates against Kubernetes 1.32's schemas
(kubernetes-validate, strict), runs every container under the restricted Pod Security
Standard, exposes only Postern's port, and mounts a configuration `postern check` accepts."""
import json
import subprocess

import kubernetes_validate
import pytest
import yaml
from helm_python import Chart

from conftest import POSTERN, ROOT
from identity_material import Keys, jwk, make_svids, write_spiffe_helper_bundles

CHART = ROOT / "charts" / "postern"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBERNETES = "1.32.0"


def render(values):
    chart = Chart.load(str(CHART))
    files = chart.render(values, name="demo", namespace="models")
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


def scenario_docs(path):
    return render(yaml.safe_load(path.read_text()) or {})


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


# An existing workload, as sidecar mode finds it: a model server Deployment of its own.
WORKLOAD = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llama", "namespace": "models"},
    "spec": {"selector": {"matchLabels": {"app": "llama"}}, "template": {
        "metadata": {"labels": {"app": "llama"}},
        "spec": {"serviceAccountName": "llama", "securityContext": {"fsGroup": 65532}, "containers": [{
            "name": "model", "image": "ghcr.io/example/vllm:0.9.0", "args": ["--host", "127.0.0.1"],
            "lifecycle": {"preStop": {"sleep": {"seconds": 25}}},
            "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "8Gi"}},
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}}}]}}}}


def patched_workload(docs):
    """WORKLOAD with the sidecar patch applied as `kubectl patch --type strategic` would:
    maps merged, containers and volumes merged by name."""
    (patch_map,) = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-sidecar")]
    patch = yaml.safe_load(patch_map["data"]["pod-patch.yaml"])["spec"]["template"]["spec"]
    workload = json.loads(json.dumps(WORKLOAD))
    spec = workload["spec"]["template"]["spec"]
    for key, value in patch.items():
        if isinstance(value, list):
            named = {item["name"]: item for item in spec.get(key, [])}
            named.update({item["name"]: item for item in value})
            spec[key] = list(named.values())
        elif isinstance(value, dict):
            spec[key] = {**spec.get(key, {}), **value}
        else:
            spec[key] = value
    return workload


def pod_spec(docs):
    deployments = of_kind(docs, "Deployment") or [patched_workload(docs)]
    (deployment,) = deployments
    return deployment["spec"]["template"]["spec"]


def containers(spec):
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_object_validates_strictly(scenario):
    docs = scenario_docs(scenario)
    if not of_kind(docs, "Deployment"):
        kubernetes_validate.validate(patched_workload(docs), KUBERNETES, strict=True)  # the workload, patched
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD: not in Kubernetes' schemas
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_container_meets_the_restricted_pod_security_standard(scenario):
    docs = scenario_docs(scenario)
    spec = pod_spec(docs)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert not [v for v in spec["volumes"] if "hostPath" in v], "no hostPath (PSS baseline refuses it)"
    assert spec["automountServiceAccountToken"] is False
    for account in of_kind(docs, "ServiceAccount"):  # sidecar mode keeps the workload's own
        assert account["automountServiceAccountToken"] is False
    for container in containers(spec):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, container["name"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"] and "add" not in context["capabilities"]
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
        assert container["resources"]["requests"] and container["resources"]["limits"], container["name"]
        assert not container.get("ports") or container["name"] == "postern", "only Postern declares ports"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_only_posterns_port_is_exposed_and_the_model_server_is_on_loopback(scenario):
    docs = scenario_docs(scenario)
    values = yaml.safe_load(scenario.read_text()) or {}
    proxy = [s for s in of_kind(docs, "Service") if not s["metadata"]["name"].endswith("-metrics")]
    (service,) = proxy
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["proxy"]
    (policy,) = of_kind(docs, "NetworkPolicy")
    ports = sorted(p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"])
    assert ports == [8443, 9902] and policy["spec"]["policyTypes"] == ["Ingress"]
    pods = (values.get("sidecar") or {}).get("podLabels") or {"app.kubernetes.io/name": "postern",
                                                             "app.kubernetes.io/instance": "demo"}
    assert policy["spec"]["podSelector"]["matchLabels"] == pods and service["spec"]["selector"] == pods
    (config_map,) = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "demo-config"]
    config = yaml.safe_load(config_map["data"]["postern.yaml"])
    assert all(u["url"].startswith("http://127.0.0.1:") for u in config["upstreams"].values())
    assert config["admin"]["address"].startswith("127.0.0.1:"), "the admin API never listens on the pod IP"
    spec = pod_spec(docs)
    postern = next(c for c in containers(spec) if c["name"] == "postern")
    assert postern["startupProbe"]["httpGet"]["port"] == "health"
    assert postern["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    native = (values.get("postern") or {}).get("nativeSidecar", True) or values.get("mode") == "sidecar"
    assert (postern in spec.get("initContainers", [])) == native
    if native:
        assert all(c["restartPolicy"] == "Always" for c in spec["initContainers"])
    model = next(c for c in spec["containers"] if c["name"] == "model")
    assert model["lifecycle"]["preStop"]["sleep"]["seconds"] >= 20, "the model server outlives Postern's drain"


def write_credentials(tmp_path, config):
    """Test files where the pod would have the SVIDs, bundles and Secrets; the
    configuration's paths rewritten to them."""
    spiffe = tmp_path / "spiffe"
    keys = Keys(make_svids(spiffe))
    for name, source in (("svid.pem", "server.pem"), ("tls.crt", "server.pem"), ("svid_key.pem", "server-pkcs8.key"),
                         ("tls.key", "server-pkcs8.key"), ("svid_bundle.pem", "ca-example.org.pem"),
                         ("ca.crt", "ca-example.org.pem")):
        (spiffe / name).write_bytes((spiffe / source).read_bytes())
    write_spiffe_helper_bundles(spiffe / "jwt_bundle.json", {"example.org": [jwk(keys.svid_key, "k1")]})
    secrets = tmp_path / "secrets"
    (secrets / "audit").mkdir(parents=True)
    for name in ("inference", "deployment"):
        (secrets / name).write_text("token-for-" + name + "\n")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(secrets / "audit" / "key.pem")], check=True)
    state = tmp_path / "state"
    (state / "audit").mkdir(parents=True)
    return (config.replace("/run/spiffe/", f"{spiffe}/").replace("/var/run/secrets/postern/", f"{secrets}/")
            .replace("/var/lib/postern/", f"{state}/"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_the_mounted_configuration_passes_postern_check(scenario, tmp_path):
    (config_map,) = [d for d in of_kind(scenario_docs(scenario), "ConfigMap") if d["metadata"]["name"] == "demo-config"]
    config = tmp_path / "postern.yaml"
    config.write_text(write_credentials(tmp_path, config_map["data"]["postern.yaml"]))
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_values_are_checked_by_the_schema():
    for bad in ({"postern": {"prot": 1}}, {"spiffe": {"provider": "hostpath"}}, {"model": {"port": 0}},
                {"mode": "sidecar"}, {"mode": "inject"},
                {"postern": {"image": {"repository": "x", "digest": "latest"}}}, {"replica": 2}):
        with pytest.raises(Exception) as refused:
            render(bad)
        assert "schema" in str(refused.value), bad


def test_secrets_are_mounted_as_files_and_images_pinned_by_digest():
    docs = scenario_docs(CHART / "ci" / "production-values.yaml")
    spec = pod_spec(docs)
    postern = next(c for c in containers(spec) if c["name"] == "postern")
    mounts = {m["mountPath"]: m for m in postern["volumeMounts"]}
    assert mounts["/var/run/secrets/postern/inference"]["readOnly"] is True
    assert mounts["/var/run/secrets/postern/audit"]["readOnly"] is True
    assert mounts["/var/lib/postern"].get("readOnly") is not True  # the state and audit directory
    assert all("@sha256:" in c["image"] for c in containers(spec) if c["name"] in ("postern", "model"))
    assert {v["name"] for v in spec["volumes"] if "secret" in v} == {"credential-inference", "credential-deployment",
                                                                     "audit-key"}
    assert spec["tolerations"] and spec["nodeSelector"]
    assert of_kind(docs, "PodDisruptionBudget") and of_kind(docs, "ServiceMonitor")


def test_the_chart_readme_documents_every_value():
    leaves = {"image", "resources", "config", "nodeSelector", "podAnnotations", "affinity", "upstreamCredentials",
              "auditKey"}

    def keys(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict) and value and key not in leaves:
                yield from keys(value, f"{prefix}{key}.")
            else:
                yield prefix + key

    readme = (CHART / "README.md").read_text()
    missing = [k for k in keys(yaml.safe_load((CHART / "values.yaml").read_text())) if f"| `{k}` |" not in readme]
    assert not missing, f"values without a row in charts/postern/README.md: {missing}"
