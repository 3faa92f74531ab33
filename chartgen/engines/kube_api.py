"""A small client of the Kubernetes API (standard library only): kubeconfig, discovery, and
server-side apply, which is all chartgen asks of a cluster."""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartgen.errors import ToolError, UsageError

# A backslash escapes the next character in an HTTP quoted-string (RFC 9110).
_QUOTED_PAIR = re.compile(r"\\(.)")

# The field manager chartgen applies with; Argo CD's own is "argocd-controller".
FIELD_MANAGER = "chartgen"


class KubeAPIError(Exception):
    """The API server answered with an error Status (or could not be reached)."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details

    @property
    def causes(self) -> list[dict[str, Any]]:
        causes = self.details.get("causes", [])
        return causes if isinstance(causes, list) else []


@dataclass(frozen=True)
class Resource:
    """Where the API serves a kind: its plural name and whether it lives in a namespace."""

    group_version: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None, name: str | None = None) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        tail = f"/{urllib.parse.quote(name)}" if name else ""
        return f"{prefix}{ns}/{self.plural}{tail}"


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    warnings: list[str]


@dataclass(frozen=True)
class Connection:
    """How to reach one API server: its URL and the credentials of one kubeconfig context."""

    server: str
    ca_file: str | None = None
    insecure: bool = False
    token: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    context: str = ""

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


def default_kubeconfig() -> Path:
    """The kubeconfig kubectl would use: the first file of $KUBECONFIG, else ~/.kube/config."""
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]) if listed else Path.home() / ".kube" / "config"


def load_kubeconfig(path: Path, context: str | None = None) -> Connection:
    """The connection of `context` (default: current-context) in the kubeconfig at `path`.
    Inline certificate data is written to private temporary files, as ssl needs files."""
    from ruamel.yaml import YAML

    try:
        config = YAML(typ="safe").load(path.read_text("utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the kubeconfig: {exc.strerror}") from None
    except Exception as exc:
        raise UsageError(f"{path}: not a kubeconfig: {exc}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path}: not a kubeconfig (a mapping with clusters, users, contexts)")
    name = context or str(config.get("current-context") or "")
    contexts = _named(config, "contexts", "context")
    if name not in contexts:
        known = ", ".join(sorted(str(c) for c in contexts)) or "none"
        raise UsageError(f"{path}: no context {name!r} (contexts: {known})")
    chosen = contexts[name]
    cluster = _named(config, "clusters", "cluster").get(str(chosen.get("cluster")))
    server = str((cluster or {}).get("server") or "")
    if not cluster or not server:
        raise UsageError(f"{path}: context {name!r} names no cluster with a server")
    if not server.startswith(("https://", "http://")):
        raise UsageError(f"{path}: cluster {chosen.get('cluster')!r}: server {server!r} is no URL")
    user = _named(config, "users", "user").get(str(chosen.get("user")), {})
    base = path.parent

    def file_of(key: str, source: dict[str, Any]) -> str | None:
        if source.get(f"{key}-data"):
            handle, written = tempfile.mkstemp(prefix="chartgen-kube-")
            atexit.register(_remove, written)  # key material: gone when chartgen ends
            with os.fdopen(handle, "wb") as out:
                out.write(base64.b64decode(source[f"{key}-data"]))
            return written
        if source.get(key):
            return str((base / str(source[key])).resolve())
        return None

    if isinstance(user.get("exec"), dict):
        # a credential plugin (EKS, GKE, AKS, OIDC): its answer holds token or certificate
        user = {**user, **_exec_credential(user["exec"], base)}
    elif user.get("auth-provider"):
        raise UsageError(
            f"{path}: user {chosen.get('user')!r} uses the removed auth-provider mechanism; "
            "use a credential plugin (exec) or a token"
        )
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text("utf-8").strip()
    return Connection(
        server=server.rstrip("/"),
        ca_file=file_of("certificate-authority", cluster),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        token=token,
        client_cert=file_of("client-certificate", user),
        client_key=file_of("client-key", user),
        context=name,
    )


def _named(config: dict[str, Any], section: str, inner: str) -> dict[str, dict[str, Any]]:
    """A kubeconfig list of named entries (`- name: x` + `<inner>: {...}`), by name; entries
    of the wrong shape are left out (and then reported as missing by name)."""
    entries = config.get(section)
    found: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get(inner) or {}, dict):
            found[str(entry.get("name"))] = entry.get(inner) or {}
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _exec_credential(plugin: dict[str, Any], base: Path) -> dict[str, Any]:
    """Run a kubeconfig's credential plugin as kubectl does (client.authentication.k8s.io
    ExecCredential, never interactive); its credentials in kubeconfig user keys."""
    from chartgen.engines.tools import run_tool

    command = str(plugin.get("command", ""))
    if os.sep in command and not os.path.isabs(command):
        command = str(base / command)  # relative to the kubeconfig, as kubectl resolves it
    api_version = str(plugin.get("apiVersion", "client.authentication.k8s.io/v1"))
    info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    listed = [e for e in _list(plugin.get("env")) if isinstance(e, dict)]
    env = {str(e.get("name")): str(e.get("value")) for e in listed}
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    done = run_tool([command, *map(str, _list(plugin.get("args")))], 60, env=env)
    if done.returncode != 0:
        output = done.stderr.strip() or "no output"
        raise ToolError(f"credential plugin {command} exited {done.returncode}: {output}")
    try:
        status = json.loads(done.stdout)["status"]
    except (ValueError, KeyError, TypeError):
        raise ToolError(f"credential plugin {command} printed no ExecCredential") from None
    found: dict[str, Any] = {}
    if status.get("token"):
        found["token"] = status["token"]
    for key, target in (
        ("clientCertificateData", "client-certificate"),
        ("clientKeyData", "client-key"),
    ):
        if status.get(key):
            found[f"{target}-data"] = base64.b64encode(str(status[key]).encode()).decode()
    return found


@dataclass
class KubeClient:
    """Requests to one API server, with the discovery answers cached per group/version."""

    connection: Connection
    timeout: float = 30.0
    _resources: dict[str, dict[str, Resource]] = field(default_factory=dict)
    _ssl: ssl.SSLContext | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Response:
        url = self.connection.server + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.connection.token:
            request.add_header("Authorization", f"Bearer {self.connection.token}")
        if self._ssl is None and url.startswith("https:"):
            self._ssl = self.connection.ssl_context()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as reply:
                return Response(reply.status, _json(reply.read()), _warnings(reply.headers))
        except urllib.error.HTTPError as err:
            status = _json(err.read())
            raise KubeAPIError(
                err.code,
                str(status.get("reason", "")),
                str(status.get("message", err.reason)),
                status.get("details", {}) or {},
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as err:  # ValueError: bad header
            reason = getattr(err, "reason", err)
            message = f"{self.connection.server}: {reason}"
            raise KubeAPIError(0, "Unreachable", message, {}) from None

    def resource(self, api_version: str, kind: str) -> Resource:
        """Where the server serves `kind` of `api_version` (KubeAPIError 404 when it does not)."""
        if api_version not in self._resources:
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self.request("GET", prefix).body
            self._resources[api_version] = {
                r["kind"]: Resource(api_version, r["name"], bool(r.get("namespaced")))
                for r in listing.get("resources", [])
                if "/" not in r.get("name", "")
            }
        found = self._resources[api_version].get(kind)
        if found is None:
            raise KubeAPIError(
                404, "NotFound", f"the server does not serve {kind} in {api_version}", {}
            )
        return found

    def path_of(self, obj: dict[str, Any], namespace: str | None = None) -> str:
        resource = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        meta = obj.get("metadata", {})
        return resource.path(meta.get("namespace") or namespace, meta.get("name"))

    def apply(
        self,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
    ) -> Response:
        """Server-side apply of one object; with dry_run the server judges it, stores nothing."""
        params = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return self.request(
            "PATCH",
            self.path_of(obj, namespace),
            json.dumps(obj).encode(),
            params=params,
            content_type="application/apply-patch+yaml",
        )

    def create_dry_run(self, obj: dict[str, Any], namespace: str | None = None) -> Response:
        """The server's verdict on creating `obj` (a name from metadata.generateName never meets
        an existing object); nothing is stored."""
        resource = self.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        params = {"fieldManager": FIELD_MANAGER, "dryRun": "All"}
        target = obj.get("metadata", {}).get("namespace") or namespace
        return self.request("POST", resource.path(target), obj, params=params)

    def get(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        return self.request("GET", self.path_of(obj, namespace)).body


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw.decode("utf-8", "replace")[:500]}
    return value if isinstance(value, dict) else {}


def _warnings(headers: Any) -> list[str]:
    """The server's Warning headers (`299 - "text"`, the text a quoted-string), as text."""
    found = []
    for header in headers.get_all("Warning") or []:
        text = str(header).strip()
        if text.startswith("299 "):
            text = text[4:].lstrip("- ").strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = _QUOTED_PAIR.sub(r"\1", text[1:-1])
        found.append(text)
    return found


@dataclass
class Cluster:
    """The cluster `chartgen validate --server` judges against, and the namespace it uses."""

    client: KubeClient
    namespace: str

    @property
    def name(self) -> str:
        connection = self.client.connection
        return f"context {connection.context!r} ({connection.server})"


def connect(kubeconfig: Path | None, context: str | None, namespace: str) -> Cluster:
    """The cluster of the kubeconfig (given, else $KUBECONFIG or ~/.kube/config), checked to
    answer and to hold `namespace`. A kubeconfig that cannot be used or a missing namespace is
    a UsageError; a cluster that does not answer or refuses the credentials, a ToolError."""
    path = kubeconfig or default_kubeconfig()
    if not path.is_file():
        raise UsageError(f"{path}: kubeconfig not found (give --kubeconfig or set KUBECONFIG)")
    try:
        connection = load_kubeconfig(path, context)
        connection.ssl_context()  # a CA or client certificate that cannot be loaded
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise UsageError(f"{path}: unusable credentials in the kubeconfig: {exc}") from None
    cluster = Cluster(KubeClient(connection, timeout=15), namespace)
    try:
        cluster.client.request("GET", f"/api/v1/namespaces/{urllib.parse.quote(namespace)}")
    except KubeAPIError as err:
        if err.status == 404:
            raise UsageError(
                f"namespace {namespace!r} does not exist on {cluster.name}: create it (with the "
                "labels the release's namespace will have) or pass --server-namespace"
            ) from None
        if err.status in (401, 403):
            message = f"{cluster.name} refused the kubeconfig's credentials: {err.message}"
            raise ToolError(message) from None
        raise ToolError(f"cannot reach the cluster of {cluster.name}: {err.message}") from None
    return cluster
