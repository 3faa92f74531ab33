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
{{- with .context.Values.commonLabels }}
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

{{/* Pod-level security context meeting Pod Security "restricted". */}}
{{- define "session-database.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 999
runAsGroup: 999
fsGroup: 999
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

{{- define "session-database.validateValues" -}}
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
