"""Bad specs: every problem reported at once as file:line:col: key: message, exit 1, no traceback,
and the previous chart left exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_cli import run

TOPOLOGY = "values/topology.yaml"
DEV = "values/environments/development.yaml"
PROD = "values/environments/production.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    old: str  # text replaced in `file` ("" appends `new`)
    new: str
    key: str
    message: str
    marker: str  # the expected location is the line holding this text, at its column
    column_offset: int = 0


CASES = [
    Case(
        "unknown-top-level-key",
        TOPOLOGY,
        "",
        "replicas: 3\n",
        "replicas",
        "unknown key (allowed:",
        "replicas: 3",
    ),
    Case(
        "typo-in-nested-key",
        TOPOLOGY,
        "    maxmemoryPolicy: noeviction",
        "    maxmemoryPolicy: noeviction\n    maxmemroy: 1gb",
        "redis.config.maxmemroy",
        "unknown key",
        "maxmemroy: 1gb",
    ),
    Case(
        "wrong-type",
        TOPOLOGY,
        "redis:\n  replicas: 3",
        "redis:\n  replicas: three",
        "redis.replicas",
        "'three' is not of type 'integer'",
        "replicas: three",
    ),
    Case(
        "unknown-mode",
        TOPOLOGY,
        "mode: ha",
        "mode: cluster",
        "mode",
        "'cluster' is not one of ['standalone', 'ha']",
        "mode: cluster",
    ),
    Case(
        "too-few-sentinels",
        TOPOLOGY,
        "  replicas: 3\n  masterSet",
        "  replicas: 2\n  masterSet",
        "sentinel.replicas",
        "2 Sentinels cannot survive losing one",
        "replicas: 2",
    ),
    Case(
        "quorum-above-sentinels",
        TOPOLOGY,
        "  masterSet: sessiondb",
        "  masterSet: sessiondb\n  quorum: 4",
        "sentinel.quorum",
        "quorum 4 exceeds the 3 Sentinels",
        "quorum: 4",
    ),
    Case(
        "same-db-index",
        TOPOLOGY,
        "  cache:\n    index: 1",
        "  cache:\n    index: 0",
        "databases.cache.index",
        "DB index 0 is already the sessions database",
        "index: 0\n    defaultTtl",
    ),
    Case(
        "same-port",
        TOPOLOGY,
        "sentinel: 26379",
        "sentinel: 6379",
        "ports.sentinel",
        "port 6379 is already used by ports.redis",
        "sentinel: 6379",
    ),
    Case(
        "maxmemory-above-limit",
        PROD,
        "maxmemory: 4gb",
        "maxmemory: 9gb",
        "redis.config.maxmemory",
        "9gb is not below the memory limit 6Gi",
        "maxmemory: 9gb",
    ),
    Case(
        "maxmemory-unlimited",
        TOPOLOGY,
        "maxmemory: 768mb",
        "maxmemory: 0",
        "redis.config.maxmemory",
        "0 means unlimited",
        "maxmemory: 0",
    ),
    Case(
        "ttl-zero",
        TOPOLOGY,
        "sessionTtlSeconds: 3600",
        "sessionTtlSeconds: 0",
        "databases.sessions.sessionTtlSeconds",
        "0 is less than the minimum of 1",
        "sessionTtlSeconds: 0",
    ),
    Case(
        "limit-negative",
        TOPOLOGY,
        "maxSessionsPerUser: 5",
        "maxSessionsPerUser: -1",
        "databases.sessions.maxSessionsPerUser",
        "-1 is less than the minimum of 1",
        "maxSessionsPerUser: -1",
    ),
    Case(
        "yaml-syntax",
        DEV,
        "mode: standalone",
        "mode: standalone\n  bad: [",
        "",
        "invalid YAML: mapping values are not allowed",
        "bad: [",
        3,
    ),
    Case(
        "duplicate-key",
        TOPOLOGY,
        "mode: ha",
        "mode: ha\nmode: standalone",
        "mode",
        "invalid YAML: duplicate key",
        "mode: standalone",
    ),
    Case(
        "overlay-changes-structure",
        PROD,
        "databases:\n",
        "databases:\n  sessions:\n    index: 3\n",
        "databases.sessions.index",
        "structure cannot change per environment",
        "index: 3",
    ),
    Case(
        "moving-image-tag",
        TOPOLOGY,
        "tag: 7.0.15-alpine",
        "tag: latest",
        "image.tag",
        "'latest' is a moving tag",
        "tag: latest",
    ),
    Case(
        "request-above-limit",
        DEV,
        "requests: {cpu: 100m",
        "requests: {cpu: 900m",
        "redis.resources.requests.cpu",
        "request 900m is above the limit 500m",
        "requests: {cpu: 900m",
        11,
    ),
    Case(
        "standalone-with-replicas",
        DEV,
        "  replicas: 1",
        "  replicas: 3",
        "redis.replicas",
        "standalone mode runs one Redis pod, not 3",
        "replicas: 3",
    ),
    Case(
        "role-unknown-database",
        TOPOLOGY,
        "databases: [cache]",
        "databases: [caches]",
        "roles.cache.databases[0]",
        "unknown database 'caches'",
        "databases: [caches]",
        12,
    ),
    Case(
        "missing-required-key",
        TOPOLOGY,
        "  masterSet: sessiondb\n",
        "",
        "sentinel.masterSet",
        "required key is missing",
        "sentinel:\n  replicas",
    ),
    Case(
        "bad-quantity",
        PROD,
        'limits: {cpu: "2", memory: 6Gi}',
        'limits: {cpu: "2", memory: 6GB}',
        "redis.resources.limits.memory",
        "'6GB' is not a valid quantity",
        "memory: 6GB}",
    ),
    Case(
        "chart-version-not-semver",
        TOPOLOGY,
        "version: 0.1.0",
        "version: v1",
        "chart.version",
        "does not match the expected format",
        "version: v1",
    ),
    Case(
        "ha-with-one-data-pod",
        PROD,
        "  replicas: 3",
        "  replicas: 1",
        "redis.replicas",
        "ha mode needs a master and at least one replica",
        "replicas: 1",
    ),
    Case(
        "min-replicas-beyond-replicas",
        TOPOLOGY,
        "    minReplicasToWrite: 1",
        "    minReplicasToWrite: 3",
        "redis.config.minReplicasToWrite",
        "3 replicas wanted but only 2 exist: every write is refused",
        "minReplicasToWrite: 3",
    ),
    Case(
        "cleanup-interval-without-cron-schedule",
        TOPOLOGY,
        "    cleanupIntervalSeconds: 300",
        "    cleanupIntervalSeconds: 420",
        "databases.sessions.cleanupIntervalSeconds",
        "420 s has no evenly spaced cron schedule",
        "cleanupIntervalSeconds: 420",
    ),
]


def _apply(workspace: Path, case: Case) -> tuple[int, int]:
    path = workspace / case.file
    text = path.read_text()
    if case.old:
        assert case.old in text, f"{case.id}: the fixture text moved"
        start = text.index(case.old)
        text = text.replace(case.old, case.new, 1)
    else:
        start = len(text)
        text += case.new
    path.write_text(text)
    # the marker inside the inserted text, else its first occurrence in the file
    offset = text.index(case.marker, start) if case.marker in case.new else text.index(case.marker)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1 + case.column_offset
    return line, column


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_spec_is_reported_at_its_key(workspace: Path, case: Case) -> None:
    assert run("build", "--out", "out", cwd=workspace).returncode == 0
    chart = workspace / "out" / "session-database"
    before = {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()}
    line, column = _apply(workspace, case)

    result = run("build", "--out", "out", cwd=workspace)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    prefix = f"{case.file}:{line}:{column}: {case.key or '<root>'}: "
    matching = [ln for ln in result.stderr.splitlines() if ln.startswith(prefix)]
    assert matching, f"no line starts with {prefix!r}:\n{result.stderr}"
    assert any(case.message in ln for ln in matching), result.stderr
    assert {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()} == before


def test_at_least_fifteen_distinct_cases() -> None:
    assert len({(c.key, c.message) for c in CASES}) >= 15


def test_all_problems_are_reported_at_once(workspace: Path) -> None:
    for case in (CASES[0], CASES[2], CASES[3]):
        _apply(workspace, case)
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 1
    for key in ("replicas", "redis.replicas", "mode"):
        assert f": {key}: " in result.stderr
    assert "3 error(s)" in result.stderr


def test_rule_errors_in_every_file_are_reported_at_once(workspace: Path) -> None:
    by_id = {c.id: c for c in CASES}
    too_few = _apply(workspace, by_id["too-few-sentinels"])
    above = _apply(workspace, by_id["maxmemory-above-limit"])
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 1
    assert f"{TOPOLOGY}:{too_few[0]}:{too_few[1]}: sentinel.replicas: " in result.stderr
    assert f"{PROD}:{above[0]}:{above[1]}: redis.config.maxmemory: " in result.stderr
    # 9gb is also too much for production's memory request
    assert "redis.resources.requests.memory: 6Gi is below maxmemory 9gb" in result.stderr
    assert "3 error(s), 0 warning(s)" in result.stderr


def test_unknown_environment_overlay(workspace: Path) -> None:
    (workspace / "values/environments/qa.yaml").write_text("redis:\n  replicas: 2\n")
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 1
    assert (
        "values/environments/qa.yaml:1:1: environments: unknown environment 'qa'" in result.stderr
    )


def test_declared_environment_without_overlay(workspace: Path) -> None:
    (workspace / "values/environments/staging.yaml").unlink()
    text = (workspace / TOPOLOGY).read_text()
    line = text[: text.index("environments:")].count("\n") + 1
    column = text.splitlines()[line - 1].index("staging") + 1
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 1
    assert (
        f"{TOPOLOGY}:{line}:{column}: environments[1]: environment 'staging' has no overlay"
        in result.stderr
    )


WARNINGS = [
    Case(
        "even-sentinel-count",
        TOPOLOGY,
        "  replicas: 3\n  masterSet",
        "  replicas: 4\n  masterSet",
        "sentinel.replicas",
        "4 Sentinels tolerate as many failures as 3",
        "replicas: 4",
    ),
    Case(
        "every-replica-for-writes",
        TOPOLOGY,
        "    minReplicasToWrite: 1",
        "    minReplicasToWrite: 2",
        "redis.config.minReplicasToWrite",
        "all 2 replicas must be up to write",
        "minReplicasToWrite: 2",
    ),
]


@pytest.mark.parametrize("case", WARNINGS, ids=[c.id for c in WARNINGS])
def test_warnings_are_located_and_do_not_fail_the_build(workspace: Path, case: Case) -> None:
    line, column = _apply(workspace, case)
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 0, result.stderr
    prefix = f"{case.file}:{line}:{column}: {case.key}: warning: {case.message}"
    assert prefix in result.stderr, result.stderr
