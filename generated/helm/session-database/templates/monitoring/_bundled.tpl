{{/*
The bundled stack (monitoring.mode bundled): Prometheus, Alertmanager and Grafana in the release
namespace. Their Services are the seed's prometheus-service, alertmanager-service and
grafana-service when the release is named like the chart (its fullname is the chart name, as
for REDIS_HOST <fullname>-service); any other release prefixes them with its fullname, so two
releases in one namespace never share a name.
*/}}
{{- define "session-database.bundled.enabled" -}}
{{- if eq .Values.monitoring.mode "bundled" }}true{{ end }}
{{- end }}

{{/* Service of a UI; call with (dict "context" $ "component" "prometheus"). */}}
{{- define "session-database.bundled.service" -}}
{{- $full := include "session-database.fullname" .context }}
{{- if eq $full (default .context.Chart.Name .context.Values.nameOverride) }}
{{- printf "%s-service" .component }}
{{- else }}
{{- printf "%s-%s-service" $full .component }}
{{- end }}
{{- end }}

{{/* In-cluster address of a UI: (dict "context" $ "component" "prometheus" "port" 9090). */}}
{{- define "session-database.bundled.url" -}}
{{- printf "http://%s.%s:%d" (include "session-database.bundled.service" .) (include "session-database.dnsSuffix" .context) (int .port) }}
{{- end }}

{{/* The public URL of a UI behind the Ingress, or nothing. */}}
{{- define "session-database.bundled.externalUrl" -}}
{{- $ingress := .context.Values.monitoring.ingress }}
{{- $host := index $ingress.hosts .component }}
{{- if and $ingress.enabled $host }}https://{{ $host }}/{{ end }}
{{- end }}

{{/* The Secret and key of Grafana's admin password: monitoring.bundled.grafana.existingSecret;
else the chart's <fullname>-grafana (made from the password value, derived from
redis.auth.password, or by the External Secrets Operator); else, with auth.source
existingSecret, the key GRAFANA_ADMIN_PASSWORD of that Secret. */}}
{{- define "session-database.bundled.grafanaSecretOwn" -}}
{{- $g := .Values.monitoring.bundled.grafana }}
{{- if not $g.existingSecret }}
{{- $source := include "session-database.authSource" . }}
{{- if $g.adminPassword }}values{{ else if eq $source "values" }}values{{ else if eq $source "externalSecret" }}externalSecret{{ end }}
{{- end }}
{{- end }}

{{- define "session-database.bundled.grafanaSecretName" -}}
{{- $g := .Values.monitoring.bundled.grafana }}
{{- if $g.existingSecret }}{{ $g.existingSecret }}
{{- else if include "session-database.bundled.grafanaSecretOwn" . }}{{ include "session-database.fullname" . }}-grafana
{{- else }}{{ include "session-database.authSecretName" . }}
{{- end }}
{{- end }}

{{- define "session-database.bundled.grafanaSecretKey" -}}
{{- if .Values.monitoring.bundled.grafana.existingSecret }}{{ .Values.monitoring.bundled.grafana.existingSecretKey }}{{ else }}GRAFANA_ADMIN_PASSWORD{{ end }}
{{- end }}

{{/* Scheduling-free pod spec parts every UI shares: its own ServiceAccount, the chart's
restricted security context. */}}
{{- define "session-database.bundled.podSpec" -}}
serviceAccountName: {{ include "session-database.serviceAccountName" (dict "context" .context "component" .component) }}
automountServiceAccountToken: false
{{- with .context.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "session-database.podSecurityContext" .context | nindent 2 }}
{{- end }}

{{- define "session-database.bundled.image" -}}
{{- $image := .image }}
{{- printf "%s:%s" $image.repository $image.tag }}{{ with $image.digest }}@{{ . }}{{ end }}
{{- end }}

{{- define "session-database.bundled.claim" -}}
- apiVersion: v1
  kind: PersistentVolumeClaim
  metadata:
    name: data
    labels:
      {{- include "session-database.selectorLabels" (dict "context" .context "component" .component) | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .storage.storageClass }}
    storageClassName: {{ . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .storage.size | quote }}
{{- end }}

{{/* The checksum of some keys of the bundled ConfigMap: a pod restarts when its own
configuration changes, not another UI's. */}}
{{- define "session-database.bundled.checksum" -}}
{{- $data := (include (print .context.Template.BasePath "/monitoring/bundled-configmap.yaml") .context | fromYaml).data }}
{{- $picked := dict }}
{{- range .keys }}{{ $_ := set $picked . (index $data .) }}{{ end }}
{{- $picked | toYaml | sha256sum }}
{{- end }}

{{/* What the templates cannot leave to values.schema.json (Helm may skip it). */}}
{{- define "session-database.bundled.validate" -}}
{{- $g := .Values.monitoring.bundled.grafana }}
{{- if or (eq $g.adminPassword "admin") (and $g.adminPassword (eq $g.adminPassword $g.adminUser)) }}
{{- fail "monitoring.bundled.grafana.adminPassword: admin/admin (or a password equal to the user) is refused; leave it empty to derive one or name a Secret" }}
{{- end }}
{{- $ingress := .Values.monitoring.ingress }}
{{- if and $ingress.enabled (or $ingress.hosts.prometheus $ingress.hosts.alertmanager) }}
{{- if eq $ingress.auth.type "none" }}
{{- fail "monitoring.ingress.auth.type: none would expose Prometheus/Alertmanager without authentication; use basic (auth.secretName) or external (auth.url) [ingress-auth]" }}
{{- end }}
{{- if and (eq $ingress.auth.type "basic") (not $ingress.auth.secretName) }}
{{- fail "monitoring.ingress.auth.secretName: basic authentication needs the htpasswd Secret's name [ingress-auth]" }}
{{- end }}
{{- if and (eq $ingress.auth.type "external") (not $ingress.auth.url) }}
{{- fail "monitoring.ingress.auth.url: external authentication needs the authentication URL [ingress-auth]" }}
{{- end }}
{{- end }}
{{- end }}
