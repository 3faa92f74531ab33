"""Rendered manifests are read as Kubernetes reads them (sigs.k8s.io/yaml, go-yaml v2 rules),
checked against the real Helm v3 CLI's own decoder (`fromYaml | toJson`) as the oracle."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chartgen.engines import helm
from chartgen.engines.manifests import ManifestError, load_objects
from chartgen.errors import RenderError
from tests.conftest import CHART, install_values
from tests.tools import go_tool

# Scalars on which YAML 1.2 readers, YAML 1.1 readers and Kubernetes disagree.
TRICKY = """\
mode: 0555
octal: 0o17
notOctal: 012345678
hex: 0x1f
binary: 0b101
underscores: 1_000
yes: yes
no: no
on: on
off: Off
shortYes: y
capitalY: Y
quotedYes: 'yes'
sexagesimal: 1:20
sexagesimalFloat: 190:20:30.15
date: 2001-12-14
float: 0555.5
plus: +12
tilde: ~
nullWord: Null
empty:
"""

# What the API server gets, written out by hand from the go-yaml v2 rules, so that the oracle
# below is itself checked.
KUBERNETES_READS = {
    "mode": 365,
    "octal": 15,
    "notOctal": 12345678,
    "hex": 31,
    "binary": 5,
    "underscores": 1000,
    "sexagesimal": "1:20",
    "sexagesimalFloat": "190:20:30.15",
    "date": "2001-12-14",
    "float": 555.5,
    "plus": 12,
    "tilde": None,
    "nullWord": None,
    "empty": None,
    "quotedYes": "yes",
    "capitalY": True,
    "shortYes": True,
}


def helm_decodes(tmp_path: Path, text: str) -> dict[str, object]:
    """The document as the Helm v3 CLI's Go decoder reads it (the oracle)."""
    chart = tmp_path / "oracle"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: oracle\nversion: 0.1.0\n")
    (chart / "doc.yaml").write_text(text)
    (chart / "templates" / "out.yaml").write_text(
        'json: {{ .Files.Get "doc.yaml" | fromYaml | toJson | quote }}\n'
    )
    result = subprocess.run(
        [go_tool("helm"), "template", "oracle", str(chart)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = next(row for row in result.stdout.splitlines() if row.startswith("json: "))
    decoded: dict[str, object] = json.loads(json.loads(line.removeprefix("json: ")))
    assert "Error" not in decoded, decoded
    return decoded


def test_tricky_scalars_read_exactly_as_kubernetes_reads_them(tmp_path: Path) -> None:
    (ours,) = load_objects(TRICKY)
    oracle = helm_decodes(tmp_path, TRICKY)
    assert ours == oracle
    # the oracle agrees with the go-yaml v2 rules written out by hand
    for key in ("mode", "octal", "notOctal", "hex", "binary", "underscores", "sexagesimal"):
        assert oracle[key] == KUBERNETES_READS[key], key
    for key in ("sexagesimalFloat", "date", "float", "plus", "tilde", "nullWord", "empty"):
        assert oracle[key] == KUBERNETES_READS[key], key
    assert oracle["quotedYes"] == "yes"
    assert oracle["true"] is True  # `yes: yes`: key and value are booleans
    assert oracle["capitalY"] is True and oracle["shortYes"] is True


def test_a_yaml_1_2_reader_would_disagree() -> None:
    """Why this matters: the reader chartgen used before got these wrong."""
    from ruamel.yaml import YAML

    naive = YAML(typ="safe").load(TRICKY)
    (ours,) = load_objects(TRICKY)
    assert naive["mode"] == 555 and ours["mode"] == 365
    assert naive["on"] == "on" and ours["true"] is True


@pytest.mark.parametrize("renderer", ["embedded", "helm-v3-cli"])
def test_rendered_config_volumes_have_octal_default_mode(renderer: str) -> None:
    """The chart writes `defaultMode: 0555`; Kubernetes reads r-x for all, 365 in decimal."""
    if renderer == "embedded":
        objects = helm.render(CHART, "production", extra=install_values("production"))
    else:
        objects = helm.render_cli(
            go_tool("helm"), CHART, "production", extra=install_values("production")
        )
    modes = [
        volume["configMap"]["defaultMode"]
        for obj in objects
        if obj.kind == "StatefulSet"
        for volume in obj.body["spec"]["template"]["spec"]["volumes"]
        if "defaultMode" in volume.get("configMap", {})
    ]
    assert modes and set(modes) == {0o555}


def test_unreadable_document_names_its_line() -> None:
    text = "a: 1\n---\nkind: ConfigMap\nmetadata:\n  name: x\n bad: indent\n"
    with pytest.raises(ManifestError) as caught:
        load_objects(text)
    # go-yaml names the line of the mapping it could not continue, as kubectl would
    assert caught.value.line == 5


def test_a_template_that_renders_invalid_yaml_is_a_render_error_at_its_line(
    tmp_path: Path,
) -> None:
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1\n"
    )
    with pytest.raises(RenderError, match=r"templates/cm.yaml:\d+ \(defaults\) renders invalid"):
        helm.render(chart)
