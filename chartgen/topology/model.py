"""Stage 3: the typed model. One frozen object per component, every default resolved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chartgen.topology.argocd import ArgoCD, argocd_model
from chartgen.topology.budgets import grace_period
from chartgen.topology.constraints import spec_default
from chartgen.topology.endpoint import Endpoint, endpoint_model
from chartgen.topology.monitoring import Monitoring, monitoring_model
from chartgen.topology.quorum import majority


@dataclass(frozen=True)
class ChartMeta:
    name: str
    version: str
    app_version: str
    description: str
    keywords: tuple[str, ...]
    maintainers: tuple[tuple[str, str], ...]  # (name, email or "")


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    pull_policy: str
    digest: str = ""


@dataclass(frozen=True)
class Resources:
    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str
    requests_ephemeral_storage: str
    limits_ephemeral_storage: str


@dataclass(frozen=True)
class Persistence:
    enabled: bool
    size: str
    storage_class: str
    access_modes: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """Timings of one Kubernetes probe."""

    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int


@dataclass(frozen=True)
class RedisConfig:
    maxmemory: str
    maxmemory_policy: str
    save: str
    appendonly: bool
    tcp_keepalive: int
    min_replicas_to_write: int
    min_replicas_max_lag: int


@dataclass(frozen=True)
class Redis:
    replicas: int
    port: int
    config: RedisConfig
    resources: Resources
    persistence: Persistence
    termination_grace_period_seconds: int
    handover_seconds: int
    pod_anti_affinity: str
    startup_probe: Probe
    liveness_probe: Probe
    readiness_probe: Probe


@dataclass(frozen=True)
class Sentinel:
    replicas: int
    port: int
    quorum: int | None  # None: derived from replicas at render time (majority)
    master_set: str
    down_after_ms: int
    failover_timeout_ms: int
    parallel_syncs: int
    resources: Resources
    pod_anti_affinity: str
    liveness_probe: Probe
    readiness_probe: Probe

    @property
    def effective_quorum(self) -> int:
        return self.quorum if self.quorum is not None else majority(self.replicas)


@dataclass(frozen=True)
class Sessions:
    index: int
    session_ttl: int
    refresh_token_ttl: int
    max_sessions_per_user: int
    max_refresh_tokens_per_user: int
    cleanup_interval: int


@dataclass(frozen=True)
class Cache:
    index: int
    default_ttl: int
    cleanup_interval: int
    cleanup_batch_size: int
    max_entries_per_service: int


@dataclass(frozen=True)
class CacheGroup:
    """The service cache's own Redis group (databases.cache.group: separate); with `shared` the
    cache lives on the sessions' group and these settings are unused."""

    separate: bool
    master_set: str
    replicas: int
    config: RedisConfig
    resources: Resources
    persistence: Persistence
    termination_grace_period_seconds: int
    pod_anti_affinity: str
    startup_probe: Probe
    liveness_probe: Probe
    readiness_probe: Probe


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    databases: tuple[str, ...]
    key_patterns: tuple[str, ...]
    # ACL command rules ('+get', '+config|get', '-@all' is implied); None: the default
    # data-access list of chartgen.security.acl (only for roles with databases).
    commands: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ExternalSecretRef:
    api_version: str
    store_kind: str
    store_name: str
    remote_key: str
    refresh_interval: str


@dataclass(frozen=True)
class Auth:
    """Where the ACL identities' passwords come from in one environment."""

    default_user: bool
    source: str  # values | existingSecret | externalSecret
    existing_secret: str
    external: ExternalSecretRef


@dataclass(frozen=True)
class Tls:
    """TLS through cert-manager in one environment."""

    enabled: bool
    issuer_kind: str
    issuer_name: str  # empty: the chart's self-signed CA
    duration: str
    renew_before: str


@dataclass(frozen=True)
class Topology:
    """One resolved environment (or the base spec) as typed objects."""

    chart: ChartMeta
    environments: tuple[str, ...]
    mode: str
    image: Image
    redis: Redis
    sentinel: Sentinel
    endpoint: Endpoint
    sessions: Sessions
    cache: Cache
    cache_group: CacheGroup
    roles: tuple[Role, ...]
    auth: Auth
    tls: Tls
    zones: int
    monitoring: Monitoring
    argocd: ArgoCD | None = None

    @property
    def ha(self) -> bool:
        return self.mode == "ha"


def _resources(raw: dict[str, Any]) -> Resources:
    return Resources(
        str(raw["requests"]["cpu"]),
        str(raw["requests"]["memory"]),
        str(raw["limits"]["cpu"]),
        str(raw["limits"]["memory"]),
        str(raw["requests"]["ephemeral-storage"]),
        str(raw["limits"]["ephemeral-storage"]),
    )


def _redis_config(config: dict[str, Any]) -> RedisConfig:
    return RedisConfig(
        maxmemory=str(config["maxmemory"]),
        maxmemory_policy=config["maxmemoryPolicy"],
        save=config.get("save", ""),
        appendonly=config.get("appendonly", True),
        tcp_keepalive=config.get("tcpKeepalive", 300),
        min_replicas_to_write=config.get("minReplicasToWrite", 0),
        min_replicas_max_lag=config.get("minReplicasMaxLag", 10),
    )


def _persistence(raw: dict[str, Any]) -> Persistence:
    return Persistence(
        enabled=raw["enabled"],
        size=str(raw["size"]),
        storage_class=raw.get("storageClass", ""),
        access_modes=tuple(raw.get("accessModes", ("ReadWriteOnce",))),
    )


def _cache_group(spec: dict[str, Any]) -> CacheGroup:
    raw = spec.get("cache", spec_default(("cache",)))
    group = spec["databases"]["cache"].get("group", spec_default(("databases", "cache", "group")))
    return CacheGroup(
        separate=group == "separate",
        master_set=raw["masterSet"],
        replicas=raw["replicas"],
        config=_redis_config(raw["config"]),
        resources=_resources(raw["resources"]),
        persistence=_persistence(raw["persistence"]),
        termination_grace_period_seconds=grace_period(spec, "cache"),
        pod_anti_affinity=raw.get("podAntiAffinity", spec_default(("cache", "podAntiAffinity"))),
        startup_probe=_probe(raw, ("cache", "startupProbe")),
        liveness_probe=_probe(raw, ("cache", "livenessProbe")),
        readiness_probe=_probe(raw, ("cache", "readinessProbe")),
    )


def _auth(spec: dict[str, Any]) -> Auth:
    raw = spec.get("auth", {})
    external = raw.get("externalSecret", {})

    def setting(source: dict[str, Any], path: tuple[str, ...]) -> Any:
        return source.get(path[-1], spec_default(path))

    def ref(key: str) -> str:
        return str(setting(external, ("auth", "externalSecret", key)))

    return Auth(
        default_user=bool(setting(raw, ("auth", "defaultUser"))),
        source=str(setting(raw, ("auth", "source"))),
        existing_secret=str(setting(raw, ("auth", "existingSecret"))),
        external=ExternalSecretRef(
            ref("apiVersion"),
            ref("storeKind"),
            ref("storeName"),
            ref("remoteKey"),
            ref("refreshInterval"),
        ),
    )


def _tls(spec: dict[str, Any]) -> Tls:
    raw = spec.get("tls", {})
    issuer = raw.get("issuer", {})

    def setting(source: dict[str, Any], path: tuple[str, ...]) -> Any:
        return source.get(path[-1], spec_default(path))

    return Tls(
        enabled=bool(setting(raw, ("tls", "enabled"))),
        issuer_kind=str(setting(issuer, ("tls", "issuer", "kind"))),
        issuer_name=str(setting(issuer, ("tls", "issuer", "name"))),
        duration=str(setting(raw, ("tls", "duration"))),
        renew_before=str(setting(raw, ("tls", "renewBefore"))),
    )


def _probe(component: dict[str, Any], path: tuple[str, str]) -> Probe:
    """The probe at spec `path` (component, probe), each timing defaulted from the schema."""
    raw = component.get(path[1], {})

    def timing(key: str) -> int:
        value = raw.get(key, spec_default((*path, key)))
        assert isinstance(value, int)
        return value

    return Probe(
        initial_delay_seconds=timing("initialDelaySeconds"),
        period_seconds=timing("periodSeconds"),
        timeout_seconds=timing("timeoutSeconds"),
        failure_threshold=timing("failureThreshold"),
    )


def build_model(spec: dict[str, Any]) -> Topology:
    """Turn a validated spec dict into the typed model, resolving defaults."""
    chart, redis, sentinel = spec["chart"], spec["redis"], spec["sentinel"]
    config, persistence = redis["config"], redis["persistence"]
    sessions, cache = spec["databases"]["sessions"], spec["databases"]["cache"]
    return Topology(
        chart=ChartMeta(
            name=chart["name"],
            version=chart["version"],
            app_version=str(chart["appVersion"]),
            description=chart["description"],
            keywords=tuple(chart.get("keywords", ())),
            maintainers=tuple(
                (m["name"], m.get("email", "")) for m in chart.get("maintainers", ())
            ),
        ),
        environments=tuple(spec["environments"]),
        mode=spec["mode"],
        image=Image(
            spec["image"]["repository"],
            str(spec["image"]["tag"]),
            spec["image"].get("pullPolicy", "IfNotPresent"),
            spec["image"].get("digest", ""),
        ),
        redis=Redis(
            replicas=redis["replicas"],
            port=spec["ports"]["redis"],
            config=_redis_config(config),
            resources=_resources(redis["resources"]),
            persistence=_persistence(persistence),
            termination_grace_period_seconds=grace_period(spec),
            handover_seconds=redis.get(
                "handoverSeconds", spec_default(("redis", "handoverSeconds"))
            ),
            pod_anti_affinity=redis.get(
                "podAntiAffinity", spec_default(("redis", "podAntiAffinity"))
            ),
            startup_probe=_probe(redis, ("redis", "startupProbe")),
            liveness_probe=_probe(redis, ("redis", "livenessProbe")),
            readiness_probe=_probe(redis, ("redis", "readinessProbe")),
        ),
        sentinel=Sentinel(
            replicas=sentinel["replicas"],
            port=spec["ports"]["sentinel"],
            quorum=sentinel.get("quorum"),
            master_set=sentinel["masterSet"],
            down_after_ms=sentinel.get("downAfterMilliseconds", 5000),
            failover_timeout_ms=sentinel.get("failoverTimeout", 60000),
            parallel_syncs=sentinel.get("parallelSyncs", 1),
            resources=_resources(sentinel["resources"]),
            pod_anti_affinity=sentinel.get(
                "podAntiAffinity", spec_default(("sentinel", "podAntiAffinity"))
            ),
            liveness_probe=_probe(sentinel, ("sentinel", "livenessProbe")),
            readiness_probe=_probe(sentinel, ("sentinel", "readinessProbe")),
        ),
        endpoint=endpoint_model(spec),
        sessions=Sessions(
            index=sessions["index"],
            session_ttl=sessions["sessionTtlSeconds"],
            refresh_token_ttl=sessions["refreshTokenTtlSeconds"],
            max_sessions_per_user=sessions["maxSessionsPerUser"],
            max_refresh_tokens_per_user=sessions["maxRefreshTokensPerUser"],
            cleanup_interval=sessions["cleanupIntervalSeconds"],
        ),
        cache=Cache(
            index=cache["index"],
            default_ttl=cache["defaultTtlSeconds"],
            cleanup_interval=cache["cleanupIntervalSeconds"],
            cleanup_batch_size=cache["cleanupBatchSize"],
            max_entries_per_service=cache["maxEntriesPerService"],
        ),
        cache_group=_cache_group(spec),
        roles=tuple(
            Role(
                name,
                body["description"],
                tuple(body["databases"]),
                tuple(body["keyPatterns"]),
                tuple(body["commands"]) if "commands" in body else None,
            )
            for name, body in sorted(spec["roles"].items())
        ),
        auth=_auth(spec),
        tls=_tls(spec),
        zones=spec.get("placement", {}).get("zones", spec_default(("placement", "zones"))),
        monitoring=monitoring_model(spec),
        argocd=argocd_model(spec),
    )
