"""The backup CronJob, the restore Job and the helm test pod as the real Helm engine renders
them; the helm test's role table against the ACL rules (Redis 7.0 semantics); the flows the
network-flows check must find blocked when their policy is gone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.workloads import pod_spec
from chartgen.render.role_checks import role_checks
from chartgen.security.acl import database_indexes, role_rules
from chartgen.security.acl_eval import allowed
from chartgen.topology.model import build_model
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, REPO, install_values
from tests.test_network_flows import _flow_lines
from tests.test_validate import TEMPLATES, edit, validate

FULL = "sessions-session-database"
SUBCOMMANDS = {"config", "acl", "client"}


def _render(env: str = "production", **extra: Any) -> list[helm.RenderedObject]:
    return helm.render(CHART, env, extra=install_values(env, extra))


def _one(objects: list[helm.RenderedObject], kind: str, name: str) -> dict[str, Any]:
    found = [o.body for o in objects if o.kind == kind and o.name == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def _restricted(pod: dict[str, Any]) -> None:
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


def _auth_keys(pod: dict[str, Any]) -> set[str]:
    volume = next(v for v in pod["volumes"] if v["name"] == "auth")
    return {item["key"] for item in volume["secret"]["items"]}


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_backup_cronjob(env: str) -> None:
    objects = _render(env)
    cron = _one(objects, "CronJob", f"{FULL}-backup")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 600 and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 1800 and job["backoffLimit"] == 1
    labels = job["template"]["metadata"]["labels"]
    assert labels["component"] == "backup"
    assert labels["app.kubernetes.io/component"] == "backup"
    pod = job["template"]["spec"]
    _restricted(pod)
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["/bin/sh", "/scripts/backup.sh"]
    ha = _one(objects, "ConfigMap", f"{FULL}-settings")["data"]["REDIS_MODE"] == "ha"
    assert _auth_keys(pod) == (
        {"BACKUP_PASSWORD", "MONITOR_PASSWORD"} if ha else {"BACKUP_PASSWORD"}
    )
    claim = next(v for v in pod["volumes"] if v["name"] == "backups")["persistentVolumeClaim"]
    assert claim["claimName"] == f"{FULL}-backup"
    scripts = _one(objects, "ConfigMap", f"{FULL}-jobs")["data"]
    assert {"backup.sh", "auth.sh", "helm-test.sh", "role-checks"} <= scripts.keys()
    assert _one(objects, "PersistentVolumeClaim", f"{FULL}-backup")["spec"]["resources"] == {
        "requests": {"storage": "16Gi"}
    }


def test_backup_volume_and_switch_are_values() -> None:
    objects = _render(backup={"persistence": {"size": "50Gi", "storageClass": "fast"}, "keep": 3})
    claim = _one(objects, "PersistentVolumeClaim", f"{FULL}-backup")["spec"]
    assert claim["storageClassName"] == "fast"
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    cron = _one(objects, "CronJob", f"{FULL}-backup")
    env = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "BACKUP_KEEP", "value": "3"} in env
    off = _render(backup={"enabled": False})
    # (the cleanup CronJobs stay; the backup's NetworkPolicy also serves the restore Job)
    assert not [
        o
        for o in off
        if o.kind in ("CronJob", "PersistentVolumeClaim") and o.name == f"{FULL}-backup"
    ]


def test_no_restore_unless_asked() -> None:
    objects = _render()
    assert not [o for o in objects if o.kind == "Job"]
    redis = _one(objects, "StatefulSet", f"{FULL}-redis")
    names = [e["name"] for e in redis["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "RESTORE_ID" not in names


def test_restore_job_stages_the_file_on_pod_0s_volume() -> None:
    objects = _render(
        restore={"fromBackup": "backup-20260101T000000Z.rdb", "id": "r1"},
        cache={"group": "separate"},
    )
    job = _one(objects, "Job", f"{FULL}-restore")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    pod = job["spec"]["template"]["spec"]
    _restricted(pod)
    claims = {
        v["name"]: v["persistentVolumeClaim"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {
        "backups": {"claimName": f"{FULL}-backup", "readOnly": True},
        "data": {"claimName": f"data-{FULL}-redis-0"},
    }
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["RESTORE_FILE"] == "backup-20260101T000000Z.rdb" and env["RESTORE_ID"] == "r1"
    # only the sessions' group restores; the cache's own group keeps no data
    for name, restores in ((f"{FULL}-redis", True), (f"{FULL}-cache", False)):
        sts = _one(objects, "StatefulSet", name)
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert ({"name": "RESTORE_ID", "value": "r1"} in container["env"]) is restores, name


@pytest.mark.parametrize(
    ("restore", "message"),
    [
        ({"fromBackup": "backup-1.rdb"}, "restore.fromBackup needs restore.id"),
        ({"fromBackup": "../etc/passwd", "id": "x"}, "fromBackup"),
    ],
)
def test_restore_values_refused(restore: dict[str, str], message: str) -> None:
    with pytest.raises(Exception, match=message.replace(".", r"\.")):
        _render(restore=restore)


def test_helm_test_pod() -> None:
    objects = _render()
    pod = _one(objects, "Pod", f"{FULL}-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
    spec = pod_spec(pod)
    assert spec is not None
    _restricted(spec[1])
    roles = {"APP", "CACHE", "CLEANUP", "MONITOR", "BACKUP"}
    assert _auth_keys(spec[1]) == {f"{r}_PASSWORD" for r in roles} | {"PROBE_PASSWORD"}
    table = _one(objects, "ConfigMap", f"{FULL}-jobs")["data"]["role-checks"].splitlines()
    for role in roles:
        lines = [ln.split()[4] for ln in table if ln.startswith(f"{role}_PASSWORD ")]
        assert "ok" in lines and "denied" in lines, (role, lines)


def test_role_table_matches_the_acl_rules() -> None:
    """Each allowed command is allowed and each forbidden one refused by the rules the chart
    gives the role (evaluated with Redis 7.0 semantics)."""
    model = build_model(resolve(REPO / "values/topology.yaml", root=REPO).base)
    indexes = database_indexes(model)
    rules = {role.name: role_rules(role, indexes) for role in model.roles}
    checks = role_checks(model)
    assert {c.user for c in checks} == set(rules)
    for check in checks:
        words = check.command.split()
        command = words[0].lower()
        if command == "select":
            verdict = allowed(rules[check.user], "select", words[1])
        else:
            sub = words[1].lower() if command in SUBCOMMANDS else None
            key = words[1] if command in ("exists", "get") else None
            verdict = allowed(rules[check.user], command, sub, key=key, db=check.db)
        assert verdict is (check.expect == "ok"), check.line


def test_forgotten_job_flows_are_found(project: Path) -> None:
    path = project / TEMPLATES / "operations" / "networkpolicy.yaml"
    edit(path, "  name: {{ $fullname }}-sentinel-from-jobs", "  name: {{ $fullname }}-unused")
    text = path.read_text()
    start = text.index("  name: {{ $fullname }}-unused")
    selector = "      {{- $sentinel | nindent 6 }}"
    path.write_text(text[:start] + text[start:].replace(selector, "      x: y", 1))
    lines = _flow_lines(validate(project).stdout)
    for source in ("backup", "test"):
        assert any(
            f"blocked (ingress): {source} -> sentinel port 26379/TCP" in ln for ln in lines
        ), lines


@pytest.mark.parametrize(
    ("kind", "name", "configmap", "script"),
    [
        ("CronJob", f"{FULL}-backup", f"{FULL}-jobs", "backup.sh"),
        ("Job", f"{FULL}-restore", f"{FULL}-restore", "restore.sh"),
        ("Pod", f"{FULL}-test", f"{FULL}-jobs", "helm-test.sh"),
        ("StatefulSet", f"{FULL}-redis", f"{FULL}-redis", "restore-start.sh"),
    ],
)
def test_job_scripts_read_only_env_their_containers_set(
    kind: str, name: str, configmap: str, script: str
) -> None:
    objects = _render(restore={"fromBackup": "backup-1.rdb", "id": "r1"})
    text = _one(objects, "ConfigMap", configmap)["data"][script]
    text += _one(objects, "ConfigMap", configmap)["data"]["auth.sh"]
    used = set(re.findall(r"\$\{?([A-Z_]+)", text))
    optional = set(re.findall(r"\$\{([A-Z_]+):-", text))
    found = pod_spec(_one(objects, kind, name))
    assert found is not None
    provided = {item["name"] for item in found[1]["containers"][0]["env"]}
    assert used - optional <= provided, f"{script} reads {sorted(used - optional - provided)} unset"
