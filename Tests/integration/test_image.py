"""The runtime image, with no container engine: `scripts/rootfs` assembles the tree the
Containerfile's final stage is made of, and Postern runs from it as UID 65532 on a
read-only mount of it (a mount namespace: /proc mounted, tmpfs at /var/lib/postern and
/tmp, as a pod's emptyDirs), serving a real request. The tree holds exactly the libraries
the binary loads, and no shell."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import POSTERN, ROOT, curl, free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot and mount namespaces need root")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("image") / "rootfs"
    subprocess.run([str(ROOT / "scripts" / "rootfs"), str(root), str(POSTERN)], check=True, capture_output=True)
    return root


def ldd_closure(binary):
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    paths = set(re.findall(r"=> (/\S+)", out)) | set(re.findall(r"^\s+(/lib\S+)", out, re.M))
    return paths


def test_the_tree_holds_exactly_the_libraries_the_binary_loads(rootfs):
    wanted = ldd_closure(POSTERN)
    shipped = {"/" + str(p.relative_to(rootfs)) for p in rootfs.rglob("*.so*") if p.is_file()}
    assert shipped == wanted
    # The libraries come from Debian packages whose records an image scanner reads.
    records = {p.name for p in (rootfs / "var" / "lib" / "dpkg" / "status.d").iterdir()}
    assert {"libssl3", "libnghttp2-14", "libsqlite3-0", "zlib1g", "libc6"} <= records
    for name in ("sh", "bash", "dash", "busybox", "apt", "dpkg"):
        assert not [p for p in rootfs.rglob(name) if p.is_file()], f"{name} in the image"


def test_nothing_but_the_state_directory_is_writable_by_postern(rootfs):
    for path in [rootfs, *rootfs.rglob("*")]:
        if path.is_symlink():
            continue
        info = path.lstat()
        relative = "/" + str(path.relative_to(rootfs)) if path != rootfs else "/"
        if relative in ("/var/lib/postern", "/tmp"):
            continue
        assert info.st_uid == 0 and not info.st_mode & 0o022, f"{relative} is writable by others"
    passwd = (rootfs / "etc" / "passwd").read_text()
    assert "nonroot:x:65532:65532:" in passwd


def run_in_image(rootfs, *args, **kwargs):
    """Postern from the tree: a private mount namespace, the tree bind-mounted read-only,
    /proc, and tmpfs where a pod mounts emptyDirs; chroot to it as 65532."""
    script = (f"R={rootfs}; mount --bind $R $R && mount -o remount,bind,ro $R && mount -t proc proc $R/proc "
              "&& mount -t tmpfs -o mode=0755,uid=65532,gid=65532 tmpfs $R/var/lib/postern "
              "&& mount -t tmpfs -o mode=1777 tmpfs $R/tmp "
              "&& exec chroot --userspec=65532:65532 $R /usr/bin/postern \"$@\"")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "POSTERN_STATE_DIR": "/var/lib/postern", "SWIFT_BACKTRACE": "enable=no"}
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "postern", *args],
                            env=env, **kwargs)


def test_postern_serves_from_the_read_only_tree_as_65532(rootfs, model_server, tmp_path):
    port, admin = free_port(), free_port()
    config = rootfs / "etc" / "postern" / "postern.yaml"
    os.chmod(config.parent, 0o755)
    config.write_text(f"listen: {{ address: 127.0.0.1:{port} }}\nadmin: {{ address: 127.0.0.1:{admin} }}\n"
                      f"upstreams: {{ model: {{ url: {model_server} }} }}\n"
                      "routes: [{ prefix: /, upstream: model, public: true }]\n"
                      "masking: { default: { detectors: all } }\n")
    os.chmod(config, 0o644)
    check = run_in_image(rootfs, "check", "/etc/postern/postern.yaml", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = check.communicate(timeout=30)
    assert check.returncode == 0, err.decode()
    log = open(tmp_path / "postern.log", "w+")
    proc = run_in_image(rootfs, "run", "--config", "/etc/postern/postern.yaml", stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 15
        while "listening on" not in (tmp_path / "postern.log").read_text():
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "postern.log").read_text()
            time.sleep(0.05)
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "repeat: mail ann@example.com"}]})
        status, _, answer = curl("-H", "content-type: application/json", "--data-binary", body,
                                 f"http://127.0.0.1:{port}/v1/chat/completions")
        assert status == 200 and json.loads(answer)["choices"][0]["message"]["content"] == "mail [EMAIL]"
        # The serving process is 65532, not root, and holds no capabilities.
        served = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_postern(p)]
        statuses = [(p / "status").read_text() for p in served]
        assert statuses and all(re.search(r"^Uid:\s+65532\s+65532\s+65532\s+65532", s, re.M) for s in statuses)
        assert all(re.search(r"^CapEff:\s+0+$", s, re.M) for s in statuses)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _is_postern(proc_dir):
    try:
        return os.readlink(proc_dir / "exe").endswith("/usr/bin/postern") and \
            (proc_dir / "cmdline").read_bytes().split(b"\0")[1:2] == [b"run"]
    except OSError:
        return False


def test_the_containerfile_builds_that_tree_into_an_empty_image():
    text = (ROOT / "Containerfile").read_text()
    final = text.split("FROM scratch", 1)
    assert len(final) == 2, "the runtime stage starts from an empty image"
    assert "scripts/rootfs /rootfs .build/release/postern" in final[0]
    assert "--static-swift-stdlib" in final[0]
    assert "COPY --from=build /rootfs /" in final[1] and "USER 65532:65532" in final[1]
    assert "RUN " not in final[1], "nothing runs in the runtime stage: it has no shell"
