"""Push the archive to an OCI registry through the embedded engine's registry client.

Credentials never come from the command line (where `ps` and shell history show them): either
CHARTGEN_REGISTRY_USER and CHARTGEN_REGISTRY_PASSWORD, or a docker config file
($DOCKER_CONFIG/config.json, else ~/.docker/config.json, credential helpers included), else none.
A version already in the registry is pulled and compared: the same archive is not pushed again,
a different one is refused, as in the HTTP repository.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.errors import ToolError, UsageError

USER_VARIABLE = "CHARTGEN_REGISTRY_USER"
PASSWORD_VARIABLE = "CHARTGEN_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class OciTarget:
    remote: str  # oci://host[:port]/path
    plain_http: bool = False

    @property
    def host(self) -> str:
        return self.remote.removeprefix("oci://").split("/", 1)[0]

    def ref(self, chart: str) -> str:
        return f"{self.remote.rstrip('/')}/{chart}"


def parse_remote(remote: str) -> str:
    rest = remote.removeprefix("oci://")
    if not remote.startswith("oci://") or not rest.split("/", 1)[0]:
        raise UsageError(f"--oci {remote!r}: expected oci://HOST[:PORT]/PATH")
    return remote.rstrip("/")


def docker_config() -> Path | None:
    folder = os.environ.get("DOCKER_CONFIG")
    path = Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"
    return path if path.is_file() else None


@contextmanager
def registry_client(target: OciTarget) -> Iterator[Any]:
    """A client logged in from the environment, reading a docker config, or anonymous."""
    import helm_python

    user = os.environ.get(USER_VARIABLE)
    password = os.environ.get(PASSWORD_VARIABLE)
    if bool(user) != bool(password):
        raise UsageError(f"set both {USER_VARIABLE} and {PASSWORD_VARIABLE}, or neither")
    with tempfile.TemporaryDirectory(prefix="chartgen-registry-") as scratch:
        config = docker_config()
        # A login is stored in a scratch file: the user's own files are never written.
        store = config if config is not None and not user else Path(scratch) / "config.json"
        client = helm_python.RegistryClient(plain_http=target.plain_http, credentials_file=store)
        with client:
            if user and password:
                try:
                    client.login(target.host, user, password, plain_http=target.plain_http)
                except helm_python.HelmError as exc:
                    raise ToolError(f"registry login to {target.host} as {user}: {exc}") from None
            yield client


def published_digest(client: Any, target: OciTarget, chart: str, version: str) -> str | None:
    """The sha256 of the archive the registry holds for `version`, or None."""
    import helm_python

    from chartgen.publish.archive import sha256_of

    try:
        tags = client.tags(target.ref(chart))
    except helm_python.HelmError as exc:
        text = str(exc).lower()
        if "status code 404" in text or "name unknown" in text:
            return None  # nothing pushed under this name yet
        raise ToolError(f"registry {target.host}: listing {chart}: {exc}{_hint(exc)}") from None
    if version not in tags:
        return None
    with tempfile.TemporaryDirectory(prefix="chartgen-pull-") as scratch:
        try:
            result = client.pull(
                target.ref(chart),
                version=version,
                destination=scratch,
                plain_http=target.plain_http,
            )
        except helm_python.HelmError as exc:
            raise ToolError(f"registry {target.host}: pulling {chart} {version}: {exc}") from None
        pulled = next(Path(scratch).glob("*.tgz"), None)
        if pulled is None:
            raise ToolError(f"registry {target.host}: pull of {version} gave no archive {result}")
        return sha256_of(pulled)


def push(client: Any, target: OciTarget, archive: Path) -> dict[str, Any]:
    """Upload the archive."""
    import helm_python

    try:
        result: dict[str, Any] = client.push(archive, target.remote, plain_http=target.plain_http)
    except helm_python.HelmError as exc:
        raise ToolError(f"push of {archive.name} to {target.remote}: {exc}{_hint(exc)}") from None
    return result


def _hint(error: Exception) -> str:
    text = str(error).lower()
    if "401" in text or "unauthorized" in text or "credential" in text:
        return (
            f" (credentials: set {USER_VARIABLE} and {PASSWORD_VARIABLE}, or log in with a "
            "docker config file; never on the command line)"
        )
    return ""
