{{/*
Names, labels and shared snippets of the session-database chart.
Resource names stay within 52 characters so StatefulSet pod labels fit in 63.
*/}}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "session-database.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, unless the release name already contains the chart name. */}}
{{- define "session-database.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 42 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "session-database.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "session-database.redis.fullname" -}}
{{- printf "%s-redis" (include "session-database.fullname" .) }}
{{- end }}

{{- define "session-database.redis.headless" -}}
{{- printf "%s-redis-headless" (include "session-database.fullname" .) }}
{{- end }}

{{/* The service cache's own Redis group (cache.group: separate): StatefulSet, headless
Service and its master endpoint Service. */}}
{{- define "session-database.cache.fullname" -}}
{{- printf "%s-cache" (include "session-database.fullname" .) }}
{{- end }}

{{- define "session-database.cache.headless" -}}
{{- printf "%s-cache-headless" (include "session-database.fullname" .) }}
{{- end }}

{{- define "session-database.cache.service" -}}
{{- printf "%s-cache-service" (include "session-database.fullname" .) }}
{{- end }}

{{/* The HAProxy port of the cache's frontend (cache.group: separate): the one after the Redis
port; <fullname>-cache-service maps the Redis port to it. */}}
{{- define "session-database.endpoint.cachePort" -}}
{{- add1 (int .Values.redis.port) }}
{{- end }}

{{/* "true" when the cache runs on its own Redis group. */}}
{{- define "session-database.cache.separate" -}}
{{- eq .Values.cache.group "separate" }}
{{- end }}

{{- define "session-database.sentinel.fullname" -}}
{{- printf "%s-sentinel" (include "session-database.fullname" .) }}
{{- end }}

{{- define "session-database.sentinel.headless" -}}
{{- printf "%s-sentinel-headless" (include "session-database.fullname" .) }}
{{- end }}

{{/* The master endpoint's Service: <fullname>-service, the seed's REDIS_HOST for a release
named like the chart. */}}
{{- define "session-database.endpoint.service" -}}
{{- printf "%s-service" (include "session-database.fullname" .) }}
{{- end }}

{{/* The master endpoint's HAProxy pods (Deployment, ConfigMap, PDB). */}}
{{- define "session-database.endpoint.fullname" -}}
{{- printf "%s-endpoint" (include "session-database.fullname" .) }}
{{- end }}

{{/* DNS suffix of in-cluster names: <namespace>.svc.<cluster domain> */}}
{{- define "session-database.dnsSuffix" -}}
{{- printf "%s.svc.%s" .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/* Sentinel majority, or the quorum the values pin. */}}
{{- define "session-database.sentinel.quorum" -}}
{{- if kindIs "invalid" .Values.sentinel.quorum }}
{{- add1 (div (int .Values.sentinel.replicas) 2) }}
{{- else }}
{{- int .Values.sentinel.quorum }}
{{- end }}
{{- end }}

{{/* Sentinels a failover needs: the quorum agrees the master is down, then a majority of all
Sentinels must authorise the failover. A disruption budget below that stops failovers. */}}
{{- define "session-database.sentinel.needed" -}}
{{- max (int (include "session-database.sentinel.quorum" .)) (add1 (div (int .Values.sentinel.replicas) 2)) }}
{{- end }}

{{/* The ServiceAccount of one component (dict "context" $ "component" "redis"): one each, so
a token or a cloud identity granted to one never reaches the other. */}}
{{/* Every Sentinel by its own pod name, "host:port" separated by spaces. */}}
{{- define "session-database.sentinel.peers" -}}
{{- $peers := list }}
{{- $name := include "session-database.sentinel.fullname" . }}
{{- $domain := printf "%s.%s" (include "session-database.sentinel.headless" .) (include "session-database.dnsSuffix" .) }}
{{- range $i := until (int .Values.sentinel.replicas) }}
{{- $peers = append $peers (printf "%s-%d.%s:%v" $name $i $domain $.Values.sentinel.port) }}
{{- end }}
{{- join " " $peers }}
{{- end }}

{{- define "session-database.serviceAccountName" -}}
{{- $values := .context.Values.serviceAccount }}
{{- if $values.create }}
{{- printf "%s-%s" (default (include "session-database.fullname" .context) $values.name) .component | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- default "default" $values.name }}
{{- end }}
{{- end }}

{{/* Selector labels; call with (dict "context" $ "component" "redis"). */}}
{{- define "session-database.selectorLabels" -}}
app.kubernetes.io/name: {{ include "session-database.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Egress to the cluster DNS only, over UDP and TCP (large answers fall back to TCP). */}}
{{- define "session-database.dnsEgress" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns.peers | nindent 4 }}
  ports:
    - port: {{ int .Values.networkPolicy.dns.port }}
      protocol: UDP
    - port: {{ int .Values.networkPolicy.dns.port }}
      protocol: TCP
{{- end }}

{{/* Labels of pod templates: no chart or app version, so a chart release that changes nothing
in the pods rolls no StatefulSet (and fails no master over). */}}
{{- define "session-database.podLabels" -}}
{{ include "session-database.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: {{ include "session-database.name" .context }}
{{- /* the component's podLabels over commonLabels; never the chart's own keys */}}
{{- $component := .values | default (index .context.Values .component) | default dict }}
{{- $extra := merge (dict) (deepCopy ($component.podLabels | default dict)) (deepCopy (.context.Values.commonLabels | default dict)) }}
{{- with omit $extra "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" "app.kubernetes.io/managed-by" "app.kubernetes.io/part-of" }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Standard labels; call with (dict "context" $ "component" "redis"), component optional. */}}
{{- define "session-database.labels" -}}
helm.sh/chart: {{ include "session-database.chart" .context }}
{{ include "session-database.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: {{ include "session-database.name" .context }}
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod-level security context meeting Pod Security "restricted". UID/GID above 10000, so
no host account shares them; the redis image's own files are not needed (scripts come from a
ConfigMap, data lives on a volume owned through fsGroup). OpenShift's restricted-v2 assigns
UID, GID and fsGroup from the namespace's range and refuses fixed ones outside it. */}}
{{- define "session-database.podSecurityContext" -}}
{{- $sc := .Values.securityContext }}
runAsNonRoot: true
{{- if not $sc.openshift }}
runAsUser: {{ int $sc.runAsUser }}
runAsGroup: {{ int $sc.runAsGroup }}
fsGroup: {{ int $sc.fsGroup }}
{{- end }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "session-database.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/*
Scheduling of a component; call with
(dict "context" $ "component" "redis" "values" .Values.redis).
*/}}
{{- define "session-database.scheduling" -}}
{{- $selector := include "session-database.selectorLabels" (dict "context" .context "component" .component) }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
affinity:
{{- if .values.affinity }}
  {{- toYaml .values.affinity | nindent 2 }}
{{- else }}
  {{- $hard := eq .values.podAntiAffinity "hard" }}
  {{- $sentinel := eq .component "sentinel" }}
  podAntiAffinity:
    {{- if $hard }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- $selector | nindent 12 }}
    {{- end }}
    {{- if or (not $hard) $sentinel }}
    preferredDuringSchedulingIgnoredDuringExecution:
      {{- if not $hard }}
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- $selector | nindent 14 }}
      {{- end }}
      {{- if $sentinel }}
      # Away from the data pods: a node holding the master and a Sentinel costs both at once.
      - weight: 50
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "session-database.selectorLabels" (dict "context" .context "component" "redis") | nindent 14 }}
      {{- if eq .context.Values.cache.group "separate" }}
      # ... and from the cache's data pods: its master set needs the same Sentinel majority.
      - weight: 50
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "session-database.selectorLabels" (dict "context" .context "component" "cache") | nindent 14 }}
      {{- end }}
      {{- end }}
    {{- end }}
{{- end }}
{{- if .values.topologySpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ .values.topologySpread.maxSkew }}
    topologyKey: {{ .values.topologySpread.topologyKey }}
    whenUnsatisfiable: {{ .values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- $selector | nindent 8 }}
{{- end }}
{{- end }}

{{/* Probe timing from values; call with the probe's values. */}}
{{- define "session-database.probeTiming" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end }}

{{/* Values the JSON schema cannot check; fails the render with a clear message. */}}
{{/* Where the passwords come from: given values always win over auth.source. */}}
{{- define "session-database.authSource" -}}
{{- if .Values.redis.auth.password }}values{{ else }}{{ .Values.auth.source }}{{ end }}
{{- end }}

{{/* The Secret every pod reads its passwords from. */}}
{{- define "session-database.authSecretName" -}}
{{- if eq (include "session-database.authSource" .) "existingSecret" }}
{{- .Values.auth.existingSecret }}
{{- else }}
{{- include "session-database.fullname" . }}-auth
{{- end }}
{{- end }}

{{/* A password not given as a value: derived from redis.auth.password and the key, so a
render is deterministic (no random values: Argo CD renders with `helm template`). */}}
{{- define "session-database.derivedPassword" -}}
{{- printf "chartgen:%s:%s" (index . 0) (index . 1) | sha256sum }}
{{- end }}

{{/* The image, pinned by digest when image.digest is set: repository:tag@digest, which
Kubernetes accepts and pulls by the digest alone (the tag is for humans). */}}
{{- define "session-database.image" -}}
{{- $image := printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- with .Values.image.digest }}
{{- $image = printf "%s@%s" $image . }}
{{- end }}
{{- $image }}
{{- end }}

{{/* Third-party linter waivers, on the StatefulSet (not the pod template: a change there would
roll the pods); one line each in the chart README (Linters). */}}
{{- define "session-database.linterWaivers" -}}
{{- if not .Values.image.digest }}
checkov.io/skip1: "CKV_K8S_43=no digest known at build time; set image.digest"
{{- end }}
{{- end }}

{{/* What the extension values may not touch, checked again here because Helm can skip
values.schema.json (--skip-schema-validation); call with (dict "context" $ "component" "redis"). */}}
{{- define "session-database.validateExtensions" -}}
{{- $c := .component }}
{{- $v := index .context.Values $c }}
{{- $labels := (list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" "app.kubernetes.io/managed-by" "app.kubernetes.io/part-of") }}
{{- range $key, $_ := $v.podLabels }}
{{- if has $key $labels }}
{{- fail (printf "%s.podLabels.%s: the chart sets this label (it selects the pods); choose another key" $c $key) }}
{{- end }}
{{- end }}
{{- $env := ternary (list "POD_NAME" "REDIS_MODE" "REDIS_PORT" "CONFIG_FILE" "RUNTIME_DIR" "DATA_DIR" "AUTH_DIR" "TLS_DIR" "ANNOUNCE_HOST" "SEED_HOST" "SEED_PORT" "SENTINEL_HOST" "SENTINEL_PORT" "MASTER_SET" "SENTINEL_PEERS" "FAILOVER_WAIT_SECONDS" "AUTH_STATE_DIR" "AUTH_STATE_KEYS") (list "POD_NAME" "ANNOUNCE_HOST" "SENTINEL_PORT" "SENTINEL_PEERS" "REDIS_NODES" "MASTER_SET" "CACHE_MASTER_SET" "CACHE_REDIS_NODES" "QUORUM" "CONFIG_DIR" "RUNTIME_DIR" "AUTH_DIR" "TLS_DIR" "AUTH_STATE_DIR" "AUTH_STATE_KEYS") (ne $c "sentinel") }}
{{- range $v.extraEnv }}
{{- if has .name $env }}
{{- fail (printf "%s.extraEnv: %s is set by the chart (its scripts read it); choose another name" $c .name) }}
{{- end }}
{{- end }}
{{- $volumes := ternary (list "config" "scripts" "auth" "tls" "runtime" "tmp" "data" "exporter-scripts" "exporter-auth" "auth-state") (list "config" "scripts" "auth" "tls" "runtime" "tmp" "exporter-scripts" "exporter-auth" "auth-state") (ne $c "sentinel") }}
{{- range $v.extraVolumes }}
{{- if has .name $volumes }}
{{- fail (printf "%s.extraVolumes: the chart has a volume named %s; choose another name" $c .name) }}
{{- end }}
{{- end }}
{{- $mounts := ternary (list "/data" "/etc/redis" "/scripts" "/run/redis" "/etc/redis-auth" "/etc/redis-tls" "/tmp" "/run/auth-state") (list "/etc/sentinel" "/scripts" "/run/sentinel" "/etc/sentinel-auth" "/etc/sentinel-tls" "/tmp" "/run/auth-state") (ne $c "sentinel") }}
{{- range $v.extraVolumeMounts }}
{{- if has .mountPath $mounts }}
{{- fail (printf "%s.extraVolumeMounts: the chart mounts %s itself; choose another path" $c .mountPath) }}
{{- end }}
{{- end }}
{{- $container := ternary "sentinel" "redis" (eq $c "sentinel") }}
{{- range (concat ($v.sidecars | default list) ($v.initContainers | default list)) }}
{{- if eq .name $container }}
{{- fail (printf "%s.sidecars/initContainers: %s is the chart's container; choose another name" $c .name) }}
{{- end }}
{{- end }}
{{- if ne $c "sentinel" }}
{{- $owned := (dict "port" "redis.port" "bind" "the chart (all addresses; the NetworkPolicies restrict who connects)" "protected-mode" "the chart (ACL users protect every connection)" "include" "the chart (start-redis.sh includes redis.conf)" "daemonize" "the chart (the server runs in the foreground as the container's process)" "dir" "the chart (the data volume)" "dbfilename" "the chart (the data volume)" "databases" "the chart (sessions and cache DB indexes)" "replicaof" "Sentinel (the current master)" "slaveof" "Sentinel (the current master)" "replica-read-only" "the chart (replicas never take writes)" "slave-read-only" "the chart (replicas never take writes)" "replica-announce-ip" "the chart (the pod's DNS name)" "replica-announce-port" "the chart (redis.port)" "slave-announce-ip" "the chart (the pod's DNS name)" "slave-announce-port" "the chart (redis.port)" "requirepass" "auth (ACL users from the Secret)" "masterauth" "auth (the replication user)" "masteruser" "auth (the replication user)" "aclfile" "auth (ACL users from the Secret)" "user" "auth (ACL users from the Secret)" "rename-command" "auth (ACL rules restrict commands per user)" "maxmemory" "redis.config.maxmemory" "maxmemory-policy" "redis.config.maxmemoryPolicy" "save" "redis.config.save" "appendonly" "redis.config.appendonly" "tcp-keepalive" "redis.config.tcpKeepalive" "min-replicas-to-write" "redis.config.minReplicasToWrite" "min-slaves-to-write" "redis.config.minReplicasToWrite" "min-replicas-max-lag" "redis.config.minReplicasMaxLag" "min-slaves-max-lag" "redis.config.minReplicasMaxLag") }}
{{- range $directive, $value := $v.extraConfig }}
{{- $name := lower $directive }}
{{- if hasKey $owned $name }}
{{- $by := get $owned $name }}
{{- if hasPrefix "redis.config." $by }}{{ $by = printf "%s.%s" $c (trimPrefix "redis." $by) }}{{ end }}
{{- fail (printf "%s.extraConfig.%s: the chart owns this directive (set by %s); it cannot be overridden" $c $directive $by) }}
{{- end }}
{{- if hasPrefix "tls-" $name }}
{{- fail (printf "%s.extraConfig.%s: the chart owns the tls-* directives (set by tls.enabled and the cert-manager Secret)" $c $directive) }}
{{- end }}
{{- if regexMatch "[\r\n]" (toString $value) }}
{{- fail (printf "%s.extraConfig.%s: one line per directive; the value holds a line break" $c $directive) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "session-database.validateValues" -}}
{{- include "session-database.validateExtensions" (dict "context" . "component" "redis") }}
{{- if eq .Values.mode "ha" }}
{{- include "session-database.validateExtensions" (dict "context" . "component" "sentinel") }}
{{- end }}
{{- if eq .Values.cache.group "separate" }}
{{- include "session-database.validateExtensions" (dict "context" . "component" "cache") }}
{{- end }}
{{- $authSource := include "session-database.authSource" . }}
{{- if and (eq $authSource "values") (not .Values.redis.auth.password) }}
{{- fail "no passwords: give them as values (--set redis.auth.password=... --set redis.auth.sentinel.password=...; the chart makes the Secret), name an existing Secret (--set auth.source=existingSecret --set auth.existingSecret=<name>; keys in the chart README), or let the External Secrets Operator make it (--set auth.source=externalSecret)" }}
{{- end }}
{{- if and (eq $authSource "existingSecret") (not .Values.auth.existingSecret) }}
{{- fail "auth.source is existingSecret but auth.existingSecret names no Secret" }}
{{- end }}
{{- $replicas := int .Values.redis.replicas }}
{{- if and (eq .Values.mode "standalone") (ne $replicas 1) }}
{{- fail (printf "redis.replicas is %d, but standalone mode runs exactly one Redis pod" $replicas) }}
{{- end }}
{{- if and (eq .Values.mode "ha") (lt $replicas 2) }}
{{- fail "ha mode needs redis.replicas >= 2 (a master and at least one replica)" }}
{{- end }}
{{- if and (eq .Values.mode "ha") (lt (int .Values.sentinel.replicas) 3) }}
{{- fail "ha mode needs sentinel.replicas >= 3 so that a majority survives losing one" }}
{{- end }}
{{- if and (eq .Values.mode "ha") (ge (int .Values.redis.config.minReplicasToWrite) $replicas) }}
{{- fail (printf "redis.config.minReplicasToWrite is %d, but only %d replicas exist: the master would refuse every write" (int .Values.redis.config.minReplicasToWrite) (sub $replicas 1)) }}
{{- end }}
{{- if gt (int (include "session-database.sentinel.quorum" .)) (int .Values.sentinel.replicas) }}
{{- fail "sentinel.quorum exceeds sentinel.replicas: no failover could ever be agreed" }}
{{- end }}
{{- end }}

{{/* The Secret cert-manager fills with the server certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "session-database.tlsSecretName" -}}
{{- printf "%s-tls" (include "session-database.fullname" .) }}
{{- end }}
