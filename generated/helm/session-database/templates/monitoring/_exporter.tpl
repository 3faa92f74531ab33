{{/*
The redis_exporter sidecar (monitoring.mode operator or bundled) of a data pod or a Sentinel;
call with (dict "context" $ "port" <Redis or Sentinel port> "tlsDir" <its TLS mount> "keyChecks"
true|false). It logs in as the monitor role with the password of the mounted Secret key, run by
files/run-exporter.sh, which restarts it when a rotation ends (redis_exporter 1.45 reads its
password once; its -redis.password-file is a JSON map). Over TLS it verifies the server
certificate (which names localhost) with the release CA.
*/}}
{{- define "session-database.monitoring.exporterEnabled" -}}
{{- if ne .Values.monitoring.mode "none" }}true{{ end }}
{{- end }}

{{/* Linter waivers of a StatefulSet with the exporter sidecar (chart README, Linters). */}}
{{- define "session-database.monitoring.exporterWaivers" -}}
{{- if include "session-database.monitoring.exporterEnabled" . }}
{{- if not .Values.monitoring.exporter.image.digest }}
checkov.io/skip2: "CKV_K8S_43=no digest known at build time; set monitoring.exporter.image.digest"
{{- end }}
{{- end }}
{{- end }}

{{/* The server container's side of the exporter's rotation: its password watcher publishes the
fingerprints of the monitor passwords the server accepts (files/watch-auth.sh), so the exporter
switches only to one the server takes. Nothing without the exporter. */}}
{{- define "session-database.monitoring.authStateEnv" -}}
{{- if include "session-database.monitoring.exporterEnabled" . }}
- name: AUTH_STATE_DIR
  value: /run/auth-state
- name: AUTH_STATE_KEYS
  value: MONITOR_PASSWORD
{{- end }}
{{- end }}

{{- define "session-database.monitoring.authStateMount" -}}
{{- if include "session-database.monitoring.exporterEnabled" .context }}
- name: auth-state
  mountPath: /run/auth-state
  {{- if .readOnly }}
  readOnly: true
  {{- end }}
{{- end }}
{{- end }}

{{- define "session-database.monitoring.exporter" -}}
{{- $ := .context }}
{{- $exp := $.Values.monitoring.exporter }}
- name: metrics
  image: "{{ $exp.image.repository }}:{{ $exp.image.tag }}{{ with $exp.image.digest }}@{{ . }}{{ end }}"
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  # the image's shell runs the wrapper; the binary and its flags are the wrapper's arguments
  command: ["/bin/sh", "/exporter-scripts/run-exporter.sh", "/redis_exporter"]
  args:
    - -redis.addr
    - "{{ if $.Values.tls.enabled }}rediss{{ else }}redis{{ end }}://localhost:{{ int .port }}"
    - -redis.user
    - monitor
    - "-config-command"
    - "-"
    - -connection-timeout
    - {{ $exp.connectionTimeout | quote }}
    - -web.listen-address
    - ":{{ int $.Values.monitoring.metricsPort }}"
    {{- if $.Values.tls.enabled }}
    - -tls-ca-cert-file
    - "{{ .tlsDir }}/ca.crt"
    {{- end }}
    {{- if .keyChecks }}
    # the cleanup jobs' results, as redis_key_value{db,key}
    - -check-single-keys
    - "db0=cleanup:result:sessions:last_run,db0=cleanup:result:sessions:last_success,db0=cleanup:result:sessions:removed,db0=cleanup:result:sessions:failures,db1=cleanup:result:cache:last_run,db1=cleanup:result:cache:last_success,db1=cleanup:result:cache:removed,db1=cleanup:result:cache:failures,db0=backup:result:last_run,db0=backup:result:last_success,db0=backup:result:bytes,db0=backup:result:duration_seconds,db0=backup:result:failures"
    {{- end }}
  env:
    - name: AUTH_DIR
      value: /etc/exporter-auth
    - name: AUTH_FILE
      value: MONITOR_PASSWORD
    - name: AUTH_STATE_DIR
      value: /run/auth-state
  ports:
    - name: metrics
      containerPort: {{ int $.Values.monitoring.metricsPort }}
      protocol: TCP
  # Alive while it listens, ready while /health answers; Redis being down is redis_up 0, never
  # a restart of the exporter.
  livenessProbe:
    tcpSocket:
      port: metrics
    periodSeconds: 20
    timeoutSeconds: 5
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /health
      port: metrics
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  resources:
    {{- toYaml $exp.resources | nindent 4 }}
  securityContext:
    {{- include "session-database.containerSecurityContext" $ | nindent 4 }}
  volumeMounts:
    - name: exporter-scripts
      mountPath: /exporter-scripts
      readOnly: true
    - name: exporter-auth
      mountPath: /etc/exporter-auth
      readOnly: true
    {{- include "session-database.monitoring.authStateMount" (dict "context" $ "readOnly" true) | nindent 4 }}
    {{- if $.Values.tls.enabled }}
    - name: tls
      mountPath: {{ .tlsDir }}
      readOnly: true
    {{- end }}
{{- end }}

{{/* The sidecar's volumes: its wrapper (from the pod's ConfigMap, "configMap") and only the
Secret key of the monitor role, updated in place when it rotates. */}}
{{- define "session-database.monitoring.exporterVolumes" -}}
- name: exporter-scripts
  configMap:
    name: {{ .configMap }}
    defaultMode: 0555
    items:
      - key: auth.sh
        path: auth.sh
      - key: run-exporter.sh
        path: run-exporter.sh
- name: exporter-auth
  secret:
    secretName: {{ include "session-database.authSecretName" .context }}
    defaultMode: 0440
    items:
      - key: MONITOR_PASSWORD
        path: MONITOR_PASSWORD
# fingerprints only (sha256), written by the server container's password watcher
- name: auth-state
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
{{- end }}
