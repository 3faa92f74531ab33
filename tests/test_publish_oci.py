"""`chartgen publish --oci` against a real OCI registry (Debian's docker-registry, distribution
2.8) on 127.0.0.1: push, pull with the Helm v3 CLI, render like the git path; with htpasswd
authentication, credentials from the environment or a docker config file, never argv."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ENVIRONMENTS
from tests.live.ports import free_port
from tests.publish_tools import chartgen, git_path_render, run_helm, sha256, template
from tests.tools import go_tool

ARCHIVE = "session-database-0.1.0.tgz"
USER, PASSWORD = "ci-publisher", "registry-secret-5f2c"


def _bcrypt(password: str) -> str:
    """docker-registry's htpasswd needs bcrypt; glibc's crypt(3) makes it (no htpasswd tool)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    assert hashed and hashed.startswith("$2"), "this libc's crypt(3) cannot make bcrypt hashes"
    return hashed


@contextmanager
def registry(folder: Path, *, auth: bool) -> Iterator[str]:
    """docker-registry on a free loopback port, storage under `folder`; stopped afterwards."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    assert Path(binary).is_file(), "docker-registry is missing: apt-get install docker-registry"
    port = free_port()
    config = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}",
        f"http: {{addr: '127.0.0.1:{port}'}}",
    ]
    if auth:
        (folder / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
        config.append(f"auth: {{htpasswd: {{realm: chartgen-test, path: {folder / 'htpasswd'}}}}}")
    (folder / "config.yml").write_text("\n".join(config) + "\n")
    log = (folder / "registry.log").open("w")
    process = subprocess.Popen(
        [binary, "serve", str(folder / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (folder / "registry.log").read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except urllib.error.HTTPError as exc:  # 401: up, asking for credentials
                if exc.code == 401:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "docker-registry did not start"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def pull(helm3: str, remote: str, destination: Path, home: Path) -> Path:
    """`helm pull` of the chart's 0.1.0 from `remote` with the Helm v3 CLI, into `destination`."""
    destination.mkdir()
    run_helm(
        helm3,
        "pull",
        f"{remote}/session-database",
        "--version",
        "0.1.0",
        "--plain-http",
        "--destination",
        str(destination),
        home=home,
    )
    return destination


def test_oci_round_trip_renders_what_the_git_path_renders(project: Path, tmp_path: Path) -> None:
    helm3 = go_tool("helm")
    store = tmp_path / "registry"
    store.mkdir()
    with registry(store, auth=False) as host:
        remote = f"oci://{host}/charts"
        pushed = chartgen("publish", "--oci", remote, "--plain-http", cwd=project)
        assert pushed.returncode == 0, pushed.stderr
        ours = pushed.stdout.split("pushed sha256:")[1].strip()
        again = chartgen("publish", "--oci", remote, "--plain-http", cwd=project)
        assert again.returncode == 0, again.stderr
        assert "is already there with this content: nothing to do" in again.stdout
        home = tmp_path / "helm-home"
        pulled = pull(helm3, remote, tmp_path / "pulled", home)
        assert sha256(pulled / ARCHIVE) == ours
        for environment in ENVIRONMENTS:
            expected = git_path_render(helm3, environment, home)
            assert template(helm3, str(pulled / ARCHIVE), environment, home) == expected
        # Other content under the pushed version is refused before anything is pushed.
        spec = project / "values" / "topology.yaml"
        spec.write_text(
            spec.read_text().replace("sessionTtlSeconds: 3600", "sessionTtlSeconds: 60")
        )
        assert chartgen("build", cwd=project).returncode == 0
        refused = chartgen("publish", "--oci", remote, "--plain-http", cwd=project)
        assert refused.returncode == 7, refused.stderr
        assert f"published sha256:{ours}" in refused.stderr


def test_oci_credentials_come_from_the_environment_or_docker_config(
    project: Path, tmp_path: Path
) -> None:
    helm3 = go_tool("helm")
    store = tmp_path / "registry"
    store.mkdir()
    empty_docker = tmp_path / "no-docker-config"
    empty_docker.mkdir()
    with registry(store, auth=True) as host:
        remote = f"oci://{host}/charts"
        args = ("publish", "--oci", remote, "--plain-http")
        anonymous = chartgen(*args, cwd=project, env={"DOCKER_CONFIG": str(empty_docker)})
        assert anonymous.returncode == 5, anonymous.stderr
        assert "basic credential not found" in anonymous.stderr
        assert "set CHARTGEN_REGISTRY_USER and CHARTGEN_REGISTRY_PASSWORD" in anonymous.stderr
        wrong = chartgen(
            *args,
            cwd=project,
            env={
                "CHARTGEN_REGISTRY_USER": USER,
                "CHARTGEN_REGISTRY_PASSWORD": "wrong",
                "DOCKER_CONFIG": str(empty_docker),
            },
        )
        assert wrong.returncode == 5, wrong.stderr
        assert "wrong" not in wrong.stderr + wrong.stdout
        from_env = chartgen(
            *args,
            cwd=project,
            env={
                "CHARTGEN_REGISTRY_USER": USER,
                "CHARTGEN_REGISTRY_PASSWORD": PASSWORD,
                "DOCKER_CONFIG": str(empty_docker),
            },
        )
        assert from_env.returncode == 0, from_env.stderr
        assert "pushed sha256:" in from_env.stdout
        assert PASSWORD not in from_env.stdout + from_env.stderr
        # A docker config (as `docker login` writes it) is read too: listing and pulling the
        # pushed version to compare it needs the login.
        docker = tmp_path / "docker"
        docker.mkdir()
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (docker / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))
        from_config = chartgen(*args, cwd=project, env={"DOCKER_CONFIG": str(docker)})
        assert from_config.returncode == 0, from_config.stderr
        assert "already there with this content" in from_config.stdout
        home = tmp_path / "helm-home"
        run_helm(
            helm3,
            "registry",
            "login",
            host,
            "--username",
            USER,
            "--password-stdin",
            "--plain-http",
            stdin=PASSWORD,
            home=home,
        )
        pulled = pull(helm3, remote, tmp_path / "pulled", home)
        assert (pulled / ARCHIVE).is_file()
