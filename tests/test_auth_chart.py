"""Authentication in the chart: the guide's install commands as written, the three sources of
the passwords' Secret, passwords that reach a Secret and nothing else, and the `acl` check
evaluating the rendered ACL users (seeded breakages found at their line)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.errors import RenderError
from chartgen.security.acl import secret_keys
from chartgen.topology.model import build_model
from chartgen.topology.resolve import resolve
from chartgen.validate.checks.crd_schema import served_versions, validator
from tests.conftest import CHART, SPEC
from tests.test_validate import TEMPLATES, edit, validate
from tests.tools import go_tool

REDIS_PASSWORD = "your-redis-password"  # the guide's own placeholders
SENTINEL_PASSWORD = "your-sentinel-password"
GUIDE_FLAGS = [
    "--set",
    f"redis.auth.password={REDIS_PASSWORD}",
    "--set",
    f"redis.auth.sentinel.password={SENTINEL_PASSWORD}",
]


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    """The Helm v3 CLI, as the guide runs `helm install` (same flags, `template` to render)."""
    return subprocess.run(
        [
            go_tool("helm"),
            "template",
            "session-database",
            str(CHART),
            "--namespace",
            "session-database",
            "--create-namespace",
            "--kube-version",
            "1.25.0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def documents(text: str) -> list[dict[str, Any]]:
    from chartgen.engines.manifests import load_objects

    return load_objects(text)


def mounted_secrets(objects: list[dict[str, Any]]) -> set[str]:
    """The passwords' Secrets the StatefulSets' pods mount (volume `auth`)."""
    return {
        volume["secret"]["secretName"]
        for o in objects
        if o["kind"] == "StatefulSet"
        for volume in o["spec"]["template"]["spec"]["volumes"]
        if "secret" in volume and volume["name"] == "auth"
    }


def expected_keys() -> set[str]:
    return set(secret_keys(build_model(resolve(SPEC).base)))


@pytest.mark.parametrize("values", [[], ["--values", str(CHART / "values-production.yaml")]])
def test_the_guides_install_commands_work_and_passwords_reach_only_the_secret(
    values: list[str],
) -> None:
    result = helm_template(*values, *GUIDE_FLAGS)
    assert result.returncode == 0, result.stderr
    objects = documents(result.stdout)
    (secret,) = [o for o in objects if o["kind"] == "Secret"]
    assert not [o for o in objects if o["kind"] == "ExternalSecret"]  # given values win
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(data) == expected_keys()
    assert data["REDIS_PASSWORD"] == REDIS_PASSWORD
    assert data["SENTINEL_PASSWORD"] == SENTINEL_PASSWORD
    derived = {k: v for k, v in data.items() if k not in ("REDIS_PASSWORD", "SENTINEL_PASSWORD")}
    assert len(set(derived.values())) == len(derived)  # one password per identity
    assert all(len(v) == 64 for v in derived.values())
    others = json.dumps([o for o in objects if o["kind"] != "Secret"])
    for password in data.values():
        assert password not in others
    assert REDIS_PASSWORD not in result.stdout.replace(secret["data"]["REDIS_PASSWORD"], "")
    # the same command renders the same passwords: nothing random at template time
    assert helm_template(*values, *GUIDE_FLAGS).stdout == result.stdout


def test_without_any_password_the_render_names_the_three_ways() -> None:
    result = helm_template()
    assert result.returncode != 0
    for way in ("--set redis.auth.password=", "auth.source=existingSecret", "externalSecret"):
        assert way in result.stderr


def test_role_passwords_can_be_given_and_unknown_keys_are_refused() -> None:
    given = helm_template(*GUIDE_FLAGS, "--set", "redis.auth.passwords.APP_PASSWORD=app-secret-1")
    (secret,) = [o for o in documents(given.stdout) if o["kind"] == "Secret"]
    assert base64.b64decode(secret["data"]["APP_PASSWORD"]).decode() == "app-secret-1"
    unknown = helm_template(*GUIDE_FLAGS, "--set", "redis.auth.passwords.ROOT_PASSWORD=x")
    assert unknown.returncode != 0 and "ROOT_PASSWORD" in unknown.stderr


def test_production_takes_its_passwords_from_an_external_secret() -> None:
    objects = [o.body for o in helm.render(CHART, "production")]
    assert not [o for o in objects if o["kind"] == "Secret"]
    (external,) = [o for o in objects if o["kind"] == "ExternalSecret"]
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert {d["secretKey"] for d in external["spec"]["data"]} == expected_keys()
    target = external["spec"]["target"]["name"]
    assert mounted_secrets(objects) == {target}


def test_the_external_secret_matches_the_operators_schema() -> None:

    objects = helm.render(CHART, "production")
    (external,) = [o.body for o in objects if o.kind == "ExternalSecret"]
    found = validator(external["apiVersion"], "ExternalSecret")
    assert found is not None
    assert list(found.iter_errors(external)) == []


def test_an_unserved_external_secret_version_is_refused() -> None:
    """The vendored External Secrets CRD no longer serves v1beta1 (the guide's example):
    values.schema.json refuses it, so no install can emit an object the API server rejects."""

    assert served_versions("external-secrets.io", "ExternalSecret") == ["v1"]
    with pytest.raises(RenderError) as refused:
        helm.render(
            CHART,
            "production",
            extra={"auth": {"externalSecret": {"apiVersion": "external-secrets.io/v1beta1"}}},
        )
    assert "apiVersion" in str(refused.value)


def test_staging_mounts_the_existing_secret_and_makes_none() -> None:
    objects = [o.body for o in helm.render(CHART, "staging")]
    assert not [o for o in objects if o["kind"] in ("Secret", "ExternalSecret")]
    assert mounted_secrets(objects) == {"session-database-auth"}


def _acl_lines(project: Path) -> list[str]:
    out = validate(project, "--env", "production", "--format", "json")
    return [
        f"{p['line']}: {p['message']}"
        for p in json.loads(out.stdout)["problems"]
        if p["check"] == "acl"
    ]


def test_acl_check_is_green_on_the_committed_chart(project: Path) -> None:
    out = validate(project, "--env", "production", "--format", "json")
    report = json.loads(out.stdout)
    assert "acl" in report["checks"]
    assert [p for p in report["problems"] if p["check"] == "acl"] == []


APP_TAIL = "+zscore -select +select|0\n"  # the end of the app user's line


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "+zscore -select +select|0\n",
            "+zscore -select +select|0 +select|1\n",
            "can SELECT database 1",
        ),
        (
            "+zscore -select +select|0\n",
            "+zscore +@keyspace -select +select|0\n",
            "can run flushdb",
        ),
        ("~session:* ~refresh:* ~user:*", "allkeys", "outside its key patterns"),
        ("+hlen +zadd", "+zadd", "cannot run hlen"),
    ],
)
def test_acl_check_finds_what_a_role_can_do_beyond_its_declaration(
    project: Path, old: str, new: str, message: str
) -> None:
    configmap = project / TEMPLATES / "redis/configmap.yaml"
    line = edit(configmap, old, new)
    found = _acl_lines(project)
    assert any(f.startswith(f"{line}: user app: ") and message in f for f in found), found


def test_acl_check_finds_a_missing_chart_identity(project: Path) -> None:
    configmap = project / TEMPLATES / "sentinel/configmap.yaml"
    text = configmap.read_text()
    start = text.index("    PROBE_PASSWORD user probe ")
    configmap.write_text(text[:start] + text[text.index("\n", start) + 1 :])
    assert any("user probe: missing" in f for f in _acl_lines(project))


def test_each_component_has_its_own_service_account_without_token_or_role() -> None:
    objects = [o.body for o in helm.render(CHART, "production")]
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    assert accounts == {
        "sessions-session-database-redis",
        "sessions-session-database-cache",  # the cache's own group (production: separate)
        "sessions-session-database-sentinel",
        "sessions-session-database-endpoint",
        "sessions-session-database-maintenance",  # the cleanup CronJobs
    }
    for obj in objects:
        if obj["kind"] == "ServiceAccount":
            assert obj["automountServiceAccountToken"] is False
        if obj["kind"] == "CronJob":  # no API token in a job's pod either
            job = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            assert job["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        if obj["kind"] in ("StatefulSet", "Deployment"):
            pod = obj["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] == obj["metadata"]["name"]
            assert pod["automountServiceAccountToken"] is False
    assert not [o for o in objects if o["kind"] in ("Role", "RoleBinding", "ClusterRole")]
