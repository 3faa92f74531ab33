"""The build's output: a snapshot of the whole chart, byte-identical rebuilds, atomic writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chartgen.errors import SpecError
from chartgen.pipeline import BuildContext, build, render
from chartgen.writer import read_tree
from tests.conftest import ARGOCD, MONITORING, REPO, SPEC


def test_whole_chart_snapshot(snapshot: Any) -> None:
    snapshot.snapshot_dir = REPO / "tests" / "snapshots"
    files = render(BuildContext(spec=SPEC, out_root=REPO / "generated" / "helm")).files
    nested: dict[str, Any] = {}
    for path, data in files.items():
        *folders, name = path.split("/")
        node = nested
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = data.decode()
    snapshot.assert_match_dir(nested, "session-database")


def test_argocd_snapshot(snapshot: Any) -> None:
    snapshot.snapshot_dir = REPO / "tests" / "snapshots"
    result = render(BuildContext(spec=SPEC, out_root=REPO / "generated" / "helm"))
    assert result.argocd_dir == REPO / "generated" / "k8s" / "argocd"
    snapshot.assert_match_dir(
        {path: data.decode() for path, data in result.argocd_files.items()}, "argocd"
    )


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = build(BuildContext(spec=SPEC, out_root=tmp_path / "a" / "helm"))
    second = build(BuildContext(spec=SPEC, out_root=tmp_path / "b" / "helm"))
    assert read_tree(first.chart_dir) == read_tree(second.chart_dir) == first.files
    assert read_tree(first.chart_dir) == read_tree(REPO / "generated/helm/session-database")
    assert first.argocd_dir == tmp_path / "a" / "k8s" / "argocd"
    assert read_tree(first.argocd_dir) == read_tree(tmp_path / "b/k8s/argocd")
    assert read_tree(first.argocd_dir) == first.argocd_files == read_tree(ARGOCD)
    assert first.monitoring_dir == tmp_path / "a" / "monitoring"
    assert read_tree(first.monitoring_dir) == read_tree(tmp_path / "b/monitoring")
    assert read_tree(first.monitoring_dir) == first.monitoring_files == read_tree(MONITORING)


def test_build_does_not_depend_on_hash_seed_or_cwd(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "chartgen", "build", "--spec", str(SPEC), "--out", str(out)],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        outputs.append(read_tree(out / "session-database"))
    assert outputs[0] == outputs[1]


def test_failed_build_leaves_the_previous_chart(workspace: Path) -> None:
    ctx = BuildContext(spec=workspace / "values/topology.yaml", out_root=workspace / "out")
    built = build(ctx)
    before = read_tree(built.chart_dir)
    assert built.argocd_dir is not None
    argocd_before = read_tree(built.argocd_dir)
    assert argocd_before
    spec = workspace / "values/topology.yaml"
    spec.write_text(spec.read_text().replace("mode: ha", "mode: cluster"))
    with pytest.raises(SpecError):
        build(ctx)
    assert read_tree(built.chart_dir) == before
    assert read_tree(built.argocd_dir) == argocd_before


def test_sigkill_mid_build_leaves_old_or_new_chart_never_a_mix(workspace: Path) -> None:
    """Kill builds at many points in time; the chart is always exactly the old or the new one."""
    spec = workspace / "values/topology.yaml"
    out = workspace / "out"
    command = [sys.executable, "-m", "chartgen", "build", "--spec", str(spec), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    old = read_tree(out / "session-database")
    spec.write_text(spec.read_text().replace("tag: 7.0.15-alpine", "tag: 7.0.14-alpine"))
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    new = read_tree(out / "session-database")
    assert new != old

    def start_from_old() -> None:
        spec.write_text(spec.read_text().replace("tag: 7.0.14-alpine", "tag: 7.0.15-alpine"))
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        spec.write_text(spec.read_text().replace("tag: 7.0.15-alpine", "tag: 7.0.14-alpine"))

    start_from_old()
    # Kill points sweep 0..120 % of a build's time, measured again each round, so a loaded
    # machine (or a warm cache) moves the sweep with it; rounds go on until kills have landed
    # on both sides of the swap, at least 24 and at most 96 of them.
    outcomes: set[str] = set()
    duration = 0.0
    for step in range(96):
        if step >= 24 and outcomes == {"old", "new"}:
            break
        if step % 8 == 0:
            started = time.monotonic()
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            duration = time.monotonic() - started
            start_from_old()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * 1.2 * (step % 24) / 23)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # the next run recovers a half-done swap before anything else; reading is enough here
        tree = (
            read_tree(out / "session-database")
            if (out / "session-database").exists()
            else read_tree(out / ".session-database.chartgen-old")
        )
        assert tree in (old, new), f"mixed chart after a kill at step {step}"
        outcomes.add("new" if tree == new else "old")
        if tree == new:  # start the next round from the old chart again
            start_from_old()
    assert outcomes == {"old", "new"}, "kills never landed on both sides of the swap"
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert read_tree(out / "session-database") == new
    assert sorted(p.name for p in out.iterdir()) == ["session-database"]


def test_values_headers_name_the_spec_actually_used(tmp_path: Path) -> None:
    """The headers name the spec and overlays the chart was built from: relative to the working
    directory, or by their last two path parts from outside it (never an absolute path)."""
    repo = tmp_path / "repo"
    specs = repo / "specs"
    (specs / "overlays").mkdir(parents=True)
    (specs / "main.yaml").write_bytes(SPEC.read_bytes())
    for overlay in (SPEC.parent / "environments").glob("*.yaml"):
        (specs / "overlays" / overlay.name).write_bytes(overlay.read_bytes())
    (tmp_path / "elsewhere").mkdir()
    for cwd in (repo, tmp_path / "elsewhere"):
        ctx = BuildContext(
            spec=specs / "main.yaml",
            out_root=repo / "charts",
            environments_dir=specs / "overlays",
            root=cwd,
        )
        files = render(ctx).files
        assert b"generated by chartgen from specs/main.yaml." in files["values.yaml"]
        staging = files["values-staging.yaml"]
        assert b"# Generated by chartgen from specs/overlays/staging.yaml." in staging
        assert str(tmp_path).encode() not in files["values.yaml"] + staging
