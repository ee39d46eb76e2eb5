"""README's configuration reference cannot drift from the loader: every key the loader
accepts is documented, and every documented key is one it accepts. What the loader accepts
is asked of it: a configuration with an unknown key at a section makes `postern check` list
the keys that section takes."""
import re
import subprocess

import pytest
import yaml

from conftest import POSTERN, ROOT

# Sections with keys of their own, as a configuration writes them (NAME: one instance).
SECTIONS = ["", "listen", "listen.tls", "identity", "forwarding", "admin", "health", "announcements", "store",
            "upstreams.NAME", "masking.NAME", "functions.NAME", "runtime", "limits", "audit", "audit.syslog",
            "audit.witness", "audit.recordings"]


def accepted(section, tmp_path):
    """The keys the loader takes at `section`, from its own complaint about an unknown one."""
    doc = {"upstreams": {"NAME": {"url": "http://127.0.0.1:1"}}}
    node = doc
    for part in section.split(".") if section else []:
        node = node.setdefault(part, {})
    node["zz_probe"] = 1
    config = tmp_path / "probe.yaml"
    config.write_text(yaml.safe_dump(doc))
    out = subprocess.run([str(POSTERN), "check", str(config)], capture_output=True, text=True).stderr
    where = re.escape(f"{section}.zz_probe" if section else "zz_probe")
    match = re.search(where + r"\S*: unknown key \(expected one of: ([^)]*)\)", out)
    assert match, f"no list of keys for '{section}': {out}"
    return match.group(1).split(", ")


def reference():
    """The configuration reference's rows, by each key they name (`a` / `b` names two)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        first = line.split(" | ", 1)[0]
        if line.startswith("| `"):
            for key in re.findall(r"`([^`]+)`", first):
                rows[key] = line
    return rows


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s or "top")
def test_every_key_the_loader_takes_is_documented(section, tmp_path):
    rows = reference()
    missing = []
    for key in accepted(section, tmp_path):
        path = f"{section}.{key}" if section else key
        if path in rows or any(row.startswith(path + ".") for row in rows):
            continue  # its own row, or rows for each of its keys
        # Documented in the row of its section, or beside a sibling (`actions` in `action`'s row).
        siblings = [text for row, text in rows.items() if row == section or row.rsplit(".", 1)[0] == section]
        if any(f"`{key}" in text or f"{key}:" in text for text in siblings):
            continue
        missing.append(path)
    assert not missing, f"keys the loader takes that README's configuration reference does not name: {missing}"


def test_every_documented_key_is_one_the_loader_takes(tmp_path):
    taken = {f"{s}.{k}" if s else k for s in SECTIONS for k in accepted(s, tmp_path)}
    unknown = [row for row in reference() if row not in taken]
    assert not unknown, f"README documents keys the loader refuses: {unknown}"
