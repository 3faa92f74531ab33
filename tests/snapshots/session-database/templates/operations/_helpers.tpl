{{/* The backup, restore and test pods' shared parts. */}}

{{/* Env of a job container: how to reach the data pods and Sentinels, where the passwords and
certificates are. */}}
{{- define "session-database.jobEnv" -}}
- name: REDIS_MODE
  value: {{ .Values.mode | quote }}
- name: REDIS_PORT
  value: {{ .Values.redis.port | quote }}
- name: AUTH_DIR
  value: /etc/redis-auth
{{- if .Values.tls.enabled }}
- name: TLS_DIR
  value: /etc/redis-tls
{{- end }}
{{- if eq .Values.mode "ha" }}
- name: SENTINEL_HOST
  value: "{{ include "session-database.sentinel.fullname" . }}.{{ include "session-database.dnsSuffix" . }}"
- name: SENTINEL_PORT
  value: {{ .Values.sentinel.port | quote }}
- name: MASTER_SET
  value: {{ .Values.sentinel.masterSet | quote }}
{{- end }}
{{- end }}

{{/* Volume mounts of a job container (scripts, passwords, CA; /tmp for the shell). */}}
{{- define "session-database.jobMounts" -}}
- name: scripts
  mountPath: /scripts
  readOnly: true
- name: auth
  mountPath: /etc/redis-auth
  readOnly: true
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/redis-tls
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Volumes of a job pod; call with (dict "context" $ "configMap" NAME "keys" (list KEY...)). */}}
{{- define "session-database.jobVolumes" -}}
- name: scripts
  configMap:
    name: {{ .configMap }}
    defaultMode: 0555
- name: auth
  secret:
    secretName: {{ include "session-database.authSecretName" .context }}
    defaultMode: 0440
    items:
      {{- range .keys }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- if .context.Values.tls.enabled }}
# Only the CA: clients check the servers' certificates and authenticate by password.
- name: tls
  secret:
    secretName: {{ include "session-database.tlsSecretName" .context }}
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 16Mi
{{- end }}

{{/* Pod spec head of a job pod: no API token, restricted security context. */}}
{{- define "session-database.jobPodHead" -}}
serviceAccountName: {{ include "session-database.serviceAccountName" (dict "context" . "component" "redis") }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "session-database.podSecurityContext" . | nindent 2 }}
{{- end }}
