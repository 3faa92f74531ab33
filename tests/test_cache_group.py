"""The service cache's two layouts (databases.cache.group): what the chart renders for each, that
`chartgen validate` (real Helm, Kubernetes schemas, network flows, ACLs...) finds nothing wrong
with either, that it does find a broken cache flow, and the rules that guard the split."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.topology.resolve import resolve
from chartgen.topology.resource_rules import eviction_policy, memory_request
from chartgen.topology.rules import data_pods, distinct_master_sets
from tests.conftest import CHART, SPEC, install_values
from tests.test_bad_specs import Case, _apply
from tests.test_cli import run
from tests.test_endpoint_chart import haproxy_check
from tests.test_validate import TEMPLATES, edit, validate

FULL = "sessions-session-database"
SPLIT = {"cache": {"group": "separate"}}
# production itself runs split; this puts its cache back beside the sessions
SHARED = {"cache": {"group": "shared"}}


def render(environment: str, extra: dict[str, Any] | None = None) -> list[helm.RenderedObject]:
    return helm.render(CHART, environment, extra=install_values(environment, extra))


def find(objects: list[helm.RenderedObject], kind: str, name: str) -> dict[str, Any]:
    return next(o.body for o in objects if o.kind == kind and o.name == name)


def env_of(body: dict[str, Any]) -> dict[str, str]:
    container = body["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container["env"]}


def test_shared_layout_renders_no_cache_group() -> None:
    objects = render("production", SHARED)
    # (the cache cleanup CronJob, <fullname>-cache-cleanup, exists in both layouts)
    group = [o.name for o in objects if o.name.startswith(f"{FULL}-cache") and o.kind != "CronJob"]
    assert not group
    settings = find(objects, "ConfigMap", f"{FULL}-settings")["data"]
    assert settings["CACHE_HOST"] == settings["REDIS_HOST"]
    assert settings["CACHE_SENTINEL_MASTER_SET"] == "sessiondb"
    assert "CACHE_MASTER_SET" not in env_of(find(objects, "StatefulSet", f"{FULL}-sentinel"))
    assert (
        "frontend cache"
        not in find(objects, "ConfigMap", f"{FULL}-endpoint")["data"]["haproxy.cfg"]
    )


def test_split_layout_renders_the_cache_group() -> None:
    objects = render("production", SPLIT)
    cache = find(objects, "StatefulSet", f"{FULL}-cache")
    assert cache["spec"]["replicas"] == 2
    assert "volumeClaimTemplates" not in cache["spec"]  # no persistence by default
    volumes = {v["name"]: v for v in cache["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert volumes["config"]["configMap"]["name"] == f"{FULL}-cache"
    env = env_of(cache)
    assert env["MASTER_SET"] == "servicecache"
    assert env["SEED_HOST"].startswith(f"{FULL}-cache-0.{FULL}-cache-headless.")
    labels = cache["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "cache"
    resources = cache["spec"]["template"]["spec"]["containers"][0]["resources"]
    # production's own cache group: Guaranteed, maxmemory 1gb x 1.5
    assert resources["requests"] == {"cpu": "1", "memory": "1536Mi", "ephemeral-storage": "64Mi"}
    assert resources["limits"]["memory"] == resources["requests"]["memory"]

    conf = find(objects, "ConfigMap", f"{FULL}-cache")["data"]["redis.conf"]
    for line in ("maxmemory 1gb", "maxmemory-policy allkeys-lru", 'save ""', "appendonly no"):
        assert line in conf.splitlines(), conf
    # the sessions' group keeps its own settings
    sessions_conf = find(objects, "ConfigMap", f"{FULL}-redis")["data"]["redis.conf"]
    assert "maxmemory 4gb" in sessions_conf.splitlines()

    sentinel = env_of(find(objects, "StatefulSet", f"{FULL}-sentinel"))
    assert sentinel["CACHE_MASTER_SET"] == "servicecache"
    assert sentinel["CACHE_REDIS_NODES"].split() == [
        f"{FULL}-cache-{i}.{FULL}-cache-headless.session-db.svc.cluster.local:6379" for i in (0, 1)
    ]
    master_conf = find(objects, "ConfigMap", f"{FULL}-sentinel")["data"]["master.conf"]
    assert "sentinel down-after-milliseconds servicecache 5000" in master_conf

    settings = find(objects, "ConfigMap", f"{FULL}-settings")["data"]
    assert settings["CACHE_HOST"] == f"{FULL}-cache-service.session-db.svc.cluster.local"
    assert settings["CACHE_PORT"] == "6379" and settings["CACHE_DB"] == "1"
    assert settings["CACHE_SENTINEL_MASTER_SET"] == "servicecache"
    service = find(objects, "Service", f"{FULL}-cache-service")["spec"]
    assert service["selector"]["app.kubernetes.io/component"] == "endpoint"
    assert service["ports"][0]["targetPort"] == "cache"
    endpoint = find(objects, "Deployment", f"{FULL}-endpoint")
    ports = endpoint["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {"name": "cache", "containerPort": 6380, "protocol": "TCP"} in ports
    assert find(objects, "PodDisruptionBudget", f"{FULL}-cache")["spec"]["maxUnavailable"] == 1
    headless = find(objects, "Service", f"{FULL}-cache-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    names = find(objects, "Certificate", f"{FULL}-tls")["spec"]["dnsNames"]
    assert f"*.{FULL}-cache-headless.session-db.svc.cluster.local" in names


def test_split_acl_each_group_has_only_the_roles_of_its_database() -> None:
    objects = render("production", SPLIT)
    users = {
        line.split()[2]
        for line in find(objects, "ConfigMap", f"{FULL}-cache")["data"]["users.acl"].splitlines()
    }
    assert "app" not in users
    assert {"cache", "cleanup", "monitor", "replication", "sentinel", "probe"} <= users
    # and the sessions' group has no cache-only role: cache writes cannot fill its noeviction
    sessions = {
        line.split()[2]
        for line in find(objects, "ConfigMap", f"{FULL}-redis")["data"]["users.acl"].splitlines()
    }
    assert "cache" not in sessions and {"app", "cleanup"} <= sessions
    shared = find(render("production", SHARED), "ConfigMap", f"{FULL}-redis")["data"]["users.acl"]
    assert " user cache " in shared


def test_standalone_split_serves_the_cache_pod_directly() -> None:
    objects = render("development", {"cache": {"group": "separate", "replicas": 1}})
    service = find(objects, "Service", f"{FULL}-cache-service")["spec"]
    assert service["selector"]["app.kubernetes.io/component"] == "cache"
    assert find(objects, "StatefulSet", f"{FULL}-cache")["spec"]["replicas"] == 1


def test_real_haproxy_accepts_the_split_endpoint(tmp_path: Path) -> None:
    for tls in (True, False):
        objects = render("production", {**SPLIT, "tls": {"enabled": tls}})
        config = find(objects, "ConfigMap", f"{FULL}-endpoint")["data"]["haproxy.cfg"]
        assert "backend cache_master" in config and "bind :6380" in config
        result = haproxy_check(config, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "WARNING" not in output and "ALERT" not in output, output


def _split_project(project: Path) -> None:
    topology = project / "values/topology.yaml"
    edit(topology, "    group: shared", "    group: separate")
    # development is standalone: one cache pod
    with open(project / "values/environments/development.yaml", "a") as overlay:
        overlay.write("cache:\n  replicas: 1\n")
    built = run("build", cwd=project)
    assert built.returncode == 0, built.stderr


def test_split_layout_validates_clean_and_a_broken_cache_flow_is_found(project: Path) -> None:
    _split_project(project)
    result = validate(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout, result.stdout
    # the Sentinels no longer reach the cache pods
    policy = project / TEMPLATES / "networkpolicy.yaml"
    text = policy.read_text()
    cache_policy = text.index("name: {{ $fullname }}-cache\n")
    marker = (
        "        {{- if $ha }}\n        - podSelector:\n            matchLabels:\n"
        "              {{- $sentinel | nindent 14 }}\n"
    )
    start = text.index(marker, cache_policy)
    policy.write_text(text[:start] + "        {{- if $ha }}\n" + text[start + len(marker) :])
    broken = validate(project)
    assert broken.returncode != 0
    assert "Sentinel monitors and reconfigures cache pods" in broken.stdout, broken.stdout


def _spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(resolve(SPEC).environments["production"])
    spec["databases"]["cache"]["group"] = "separate"
    for path, value in changes.items():
        node = spec
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return spec


def test_eviction_rule_per_layout() -> None:
    # the seed's allkeys-lru on the sessions' group is still reported, as sessions-only eviction
    (finding,) = eviction_policy(_spec(redis__config__maxmemoryPolicy="allkeys-lru"))
    assert finding[0] == ("redis", "config", "maxmemoryPolicy")
    assert "evicts live sessions" in finding[1] and "use noeviction" in finding[1]
    # production: sessions on noeviction, the cache on allkeys-lru: nothing to report
    assert list(eviction_policy(_spec())) == []
    # shared with the seed's policy: the message points at the split
    shared = _spec(redis__config__maxmemoryPolicy="allkeys-lru")
    shared["databases"]["cache"]["group"] = "shared"
    (finding,) = eviction_policy(shared)
    assert "databases.cache.group: separate" in finding[1]


def test_group_rules_apply_to_the_cache_group() -> None:
    spec = _spec(cache__masterSet="sessiondb")
    assert [key for key, _ in distinct_master_sets(spec)] == [("cache", "masterSet")]
    spec = _spec(mode="standalone")
    keys = [key for key, _ in data_pods(spec)]
    assert ("cache", "replicas") in keys
    spec = _spec()
    spec["cache"]["resources"]["requests"]["memory"] = "256Mi"  # below 256mb + 25%
    assert [key for key, _ in memory_request(spec)] == [
        ("cache", "resources", "requests", "memory")
    ]
    # shared: the cache section is not checked at all
    spec["databases"]["cache"]["group"] = "shared"
    assert list(memory_request(spec)) == []


@pytest.mark.parametrize(
    "case",
    [
        Case(
            "cache-master-set-clash",
            "values/topology.yaml",
            "  masterSet: servicecache",
            "  masterSet: sessiondb",
            "cache.masterSet",
            "is already sentinel.masterSet",
            "masterSet: sessiondb",
        ),
        Case(
            "cache-group-unknown",
            "values/topology.yaml",
            "    group: shared",
            "    group: own",
            "databases.cache.group",
            "is not one of",
            "group: own",
        ),
    ],
    ids=lambda c: c.id,
)
def test_bad_cache_group_spec_is_reported_at_its_key(workspace: Path, case: Case) -> None:
    if case.id == "cache-master-set-clash":
        edit(workspace / "values/topology.yaml", "    group: shared", "    group: separate")
        with open(workspace / "values/environments/development.yaml", "a") as overlay:
            overlay.write("cache:\n  replicas: 1\n")
    line, column = _apply(workspace, case)
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    prefix = f"{case.file}:{line}:{column}: {case.key}: "
    matching = [ln for ln in result.stderr.splitlines() if ln.startswith(prefix)]
    assert matching and case.message in matching[0], result.stderr


def test_an_environment_chooses_the_split_in_its_overlay(project: Path) -> None:
    """The layout is a parameter: production's overlay alone runs its cache on its own group and
    its sessions on noeviction (0 errors, 0 warnings); the same overlay back on the shared group
    with the seed's allkeys-lru gets the eviction warning, at the overlay's line."""
    overlay = project / "values/environments/production.yaml"
    built = run("build", cwd=project)
    assert built.returncode == 0, built.stderr
    values = (project / "generated/helm/session-database/values-production.yaml").read_text()
    assert "cache:\n  group: separate\n" in values
    assert "maxmemoryPolicy: noeviction" in values
    result = validate(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s), 0 warning(s)" in result.stdout, result.stdout
    edit(overlay, "    group: separate", "    group: shared")
    line = edit(overlay, "maxmemoryPolicy: noeviction", "maxmemoryPolicy: allkeys-lru")
    built = run("build", cwd=project)
    assert built.returncode == 0, built.stderr
    warning = f"values/environments/production.yaml:{line}:5: redis.config.maxmemoryPolicy: warning"
    assert warning in built.stderr, built.stderr


def test_the_cache_cleanup_job_follows_the_cache_to_its_own_group() -> None:
    def job_env(objects: list[helm.RenderedObject], name: str) -> dict[str, str]:
        job = find(objects, "CronJob", f"{FULL}-{name}")["spec"]["jobTemplate"]
        container = job["spec"]["template"]["spec"]["containers"][0]
        return {item["name"]: item.get("value", "") for item in container["env"]}

    shared, split = render("production", SHARED), render("production", SPLIT)
    assert job_env(shared, "cache-cleanup")["MASTER_SET"] == "sessiondb"
    assert job_env(split, "cache-cleanup")["MASTER_SET"] == "servicecache"
    assert job_env(split, "session-cleanup")["MASTER_SET"] == "sessiondb"
    assert job_env(split, "cache-cleanup")["REDIS_DB"] == "1"
