"""`chartgen publish` to a Helm chart repository directory, proven with the Helm v3 CLI: served
over HTTP on 127.0.0.1, added, pulled and rendered like the git path; versions kept, immutable,
idempotent, consistent after a kill at any step, signed and verified."""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ENVIRONMENTS
from tests.live.ports import free_port
from tests.publish_tools import (
    assert_consistent,
    chartgen,
    git_path_render,
    indexed_versions,
    run_helm,
    sha256,
    template,
)
from tests.tools import go_tool

ARCHIVE = "session-database-0.1.0.tgz"


@contextmanager
def serve(directory: Path, port: int) -> Iterator[str]:
    """DIR over HTTP on 127.0.0.1, as a static web server would serve a chart repository."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def publish(project: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return chartgen("publish", "--repo-dir", str(repo), *args, cwd=project)


def set_chart_version(project: Path, version: str) -> None:
    spec = project / "values" / "topology.yaml"
    text = spec.read_text("utf-8")
    bumped = re.sub(r"(?m)^(  version: )0\.1\.0$", rf"\g<1>{version}", text, count=1)
    assert bumped != text
    spec.write_text(bumped, "utf-8")
    build = chartgen("build", cwd=project)
    assert build.returncode == 0, build.stderr


def snapshot(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(repo.iterdir())}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "charts"
    folder.mkdir()
    return folder


def test_served_repository_renders_what_the_git_path_renders(project: Path, repo: Path) -> None:
    helm3 = go_tool("helm")
    port = free_port()
    done = publish(project, repo, "--base-url", f"http://127.0.0.1:{port}/")
    assert done.returncode == 0, done.stderr
    assert f"published {ARCHIVE}" in done.stdout
    digests = indexed_versions(repo)
    home = project / "helm-home"
    with serve(repo, port) as url:
        run_helm(helm3, "repo", "add", "sessiondb", url, home=home)
        run_helm(helm3, "repo", "update", home=home)
        listed = run_helm(helm3, "search", "repo", "sessiondb/session-database", home=home)
        assert "0.1.0" in listed
        pulled = project / "pulled"
        pulled.mkdir()
        run_helm(
            helm3,
            "pull",
            "sessiondb/session-database",
            "--version",
            "0.1.0",
            "--destination",
            str(pulled),
            home=home,
        )
        assert sha256(pulled / ARCHIVE) == digests["0.1.0"]
        for environment in ENVIRONMENTS:
            expected = git_path_render(helm3, environment, home)
            from_repo = template(
                helm3, "sessiondb/session-database", environment, home, "--version", "0.1.0"
            )
            assert from_repo == expected, environment
            assert template(helm3, str(pulled / ARCHIVE), environment, home) == expected


def test_a_new_version_keeps_every_earlier_one(project: Path, repo: Path) -> None:
    assert publish(project, repo).returncode == 0
    first = (repo / "index.yaml").read_text("utf-8")
    set_chart_version(project, "0.2.0")
    second = publish(project, repo)
    assert second.returncode == 0, second.stderr
    versions = indexed_versions(repo)
    assert list(versions) == ["0.2.0", "0.1.0"]  # Helm's order: newest first
    old_entry = first[first.index("    - ") : first.index("generated:")]
    assert old_entry in (repo / "index.yaml").read_text("utf-8")  # created and digest kept
    assert sha256(repo / ARCHIVE) == versions["0.1.0"]


def test_other_content_under_a_published_version_is_refused(project: Path, repo: Path) -> None:
    assert publish(project, repo).returncode == 0
    before = snapshot(repo)
    published = indexed_versions(repo)["0.1.0"]
    spec = project / "values" / "topology.yaml"
    spec.write_text(spec.read_text().replace("sessionTtlSeconds: 3600", "sessionTtlSeconds: 7200"))
    assert chartgen("build", cwd=project).returncode == 0
    refused = publish(project, repo)
    assert refused.returncode == 7, refused.stderr
    message = refused.stderr
    assert "session-database 0.1.0 is already published with different content" in message
    assert f"published sha256:{published}" in message
    ours = re.search(r"this chart sha256:([0-9a-f]{64})", message)
    assert ours and ours.group(1) != published
    assert "Traceback" not in message
    assert snapshot(repo) == before


def test_the_same_content_again_changes_nothing(project: Path, repo: Path) -> None:
    assert publish(project, repo).returncode == 0
    before = snapshot(repo)
    index_mtime = (repo / "index.yaml").stat().st_mtime_ns
    # A rebuild rewrites every file; other times and modes must not make another archive.
    assert chartgen("build", cwd=project).returncode == 0
    chart = project / "generated/helm/session-database"
    for path in chart.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    (chart / "values.yaml").chmod(0o600)
    again = publish(project, repo)
    assert again.returncode == 0, again.stderr
    assert "already published with this content: nothing to do" in again.stdout
    assert snapshot(repo) == before
    assert (repo / "index.yaml").stat().st_mtime_ns == index_mtime


# Runs chartgen publish and SIGKILLs it just before it renames one of its files into place:
# Python's audit hook sees every os.replace, so the kill lands exactly between two steps.
KILLER = """
import os, signal, sys
target = sys.argv[1]
def hook(event, args):
    if event == "os.rename" and os.path.basename(str(args[1])) == target:
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
from chartgen.cli import main
sys.argv = ["chartgen", "publish", "--repo-dir", sys.argv[2]]
main()
"""


@pytest.mark.parametrize("killed_before", ["session-database-0.2.0.tgz", "index.yaml"])
def test_a_killed_publish_leaves_the_repository_consistent(
    project: Path, repo: Path, killed_before: str
) -> None:
    assert publish(project, repo).returncode == 0
    index_before = (repo / "index.yaml").read_bytes()
    set_chart_version(project, "0.2.0")
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, killed_before, str(repo)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    assert (repo / "index.yaml").read_bytes() == index_before
    assert indexed_versions(repo) == {"0.1.0": sha256(repo / ARCHIVE)}
    leftovers = [p.name for p in repo.glob(".chartgen-publish-*")]
    assert leftovers, "the kill should have left the temporary file it was about to rename"
    resumed = publish(project, repo)
    assert resumed.returncode == 0, resumed.stderr
    assert list(indexed_versions(repo)) == ["0.2.0", "0.1.0"]
    assert not list(repo.glob(".chartgen-publish-*"))


def _gpg(home: Path, *args: str) -> bytes:
    gpg = subprocess.run(["which", "gpg"], capture_output=True, text=True, check=False)
    assert gpg.returncode == 0, "gpg is missing: apt-get install gnupg"
    result = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_a_signed_chart_verifies_with_helm(project: Path, repo: Path, tmp_path: Path) -> None:
    helm3 = go_tool("helm")
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    uid = "Chartgen Test Signer <signer@example.invalid>"
    _gpg(gnupg, "--passphrase", "", "--quick-gen-key", uid, "rsa2048", "sign", "never")
    # Helm reads the legacy keyring files, not gpg's keybox.
    secring, pubring = tmp_path / "secring.gpg", tmp_path / "pubring.gpg"
    secring.write_bytes(_gpg(gnupg, "--export-secret-keys"))
    pubring.write_bytes(_gpg(gnupg, "--export"))
    signed = publish(project, repo, "--sign-key", str(secring), "--key-name", "Chartgen Test")
    assert signed.returncode == 0, signed.stderr
    assert (repo / f"{ARCHIVE}.prov").is_file()
    assert_consistent(repo)
    home = tmp_path / "helm-home"
    verified = run_helm(helm3, "verify", str(repo / ARCHIVE), "--keyring", str(pubring), home=home)
    assert "Signed by: Chartgen Test Signer" in verified
    # A different archive under the same provenance fails verification.
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / ARCHIVE).write_bytes((repo / ARCHIVE).read_bytes() + b"\0")
    (forged / f"{ARCHIVE}.prov").write_bytes((repo / f"{ARCHIVE}.prov").read_bytes())
    result = subprocess.run(
        [helm3, "verify", str(forged / ARCHIVE), "--keyring", str(pubring)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "sha256 sum does not match" in result.stderr


def test_a_chart_that_fails_validate_is_not_published(project: Path, repo: Path) -> None:
    values = project / "generated/helm/session-database/values.yaml"
    values.write_text(values.read_text() + "\n# hand edit\n")  # drift: not what the spec builds
    refused = publish(project, repo)
    assert refused.returncode == 1, refused.stderr
    assert "fails `chartgen validate`; nothing was published" in refused.stderr
    assert "values.yaml" in refused.stderr and "[drift]" in refused.stderr
    assert list(repo.iterdir()) == []


def test_two_publishes_with_source_date_epoch_are_byte_identical(
    project: Path, tmp_path: Path
) -> None:
    pinned = {"SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01T00:00:00Z
    trees = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        done = chartgen("publish", "--repo-dir", str(folder), cwd=project, env=pinned)
        assert done.returncode == 0, done.stderr
        assert chartgen("build", cwd=project).returncode == 0  # new mtimes for the second
        trees.append(snapshot(folder))
    assert trees[0] == trees[1]
    assert b'generated: "2026-01-01T00:00:00.000000000Z"' in trees[0]["index.yaml"]


def test_a_damaged_index_is_reported_and_left_alone(project: Path, repo: Path) -> None:
    (repo / "index.yaml").write_text("apiVersion: v1\nentries:\n  session-database: [\n")
    refused = publish(project, repo)
    assert refused.returncode == 4, refused.stderr
    assert f"{repo / 'index.yaml'}:3: not a readable index: did not find" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["index.yaml"]


def test_signing_options_go_together(project: Path, repo: Path, tmp_path: Path) -> None:
    keyring = tmp_path / "secring.gpg"
    keyring.write_bytes(b"")
    alone = publish(project, repo, "--sign-key", str(keyring))
    assert alone.returncode == 2
    assert "--sign-key and --key-name go together" in alone.stderr
