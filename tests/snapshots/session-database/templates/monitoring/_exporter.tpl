{{/*
The redis_exporter sidecar (monitoring.mode operator or bundled) of a data pod or a Sentinel;
call with (dict "context" $ "port" <Redis or Sentinel port> "tlsDir" <its TLS mount> "keyChecks"
true|false). It logs in as the monitor role; the password comes from the Secret key by
reference (redis_exporter 1.45 reads -redis.password-file as a JSON map, a plain file is fatal).
Over TLS it verifies the server certificate (which names localhost) with the release CA.
*/}}
{{- define "session-database.monitoring.exporterEnabled" -}}
{{- if ne .Values.monitoring.mode "none" }}true{{ end }}
{{- end }}

{{/* Linter waivers of a StatefulSet with the exporter sidecar (chart README, Linters). */}}
{{- define "session-database.monitoring.exporterWaivers" -}}
{{- if include "session-database.monitoring.exporterEnabled" . }}
checkov.io/skip2: "CKV_K8S_35=redis_exporter 1.45 reads its password from the environment only (its password file is a JSON map); the Secret key is referenced, never copied"
{{- if not .Values.monitoring.exporter.image.digest }}
checkov.io/skip3: "CKV_K8S_43=no digest known at build time; set monitoring.exporter.image.digest"
{{- end }}
{{- end }}
{{- end }}

{{- define "session-database.monitoring.exporter" -}}
{{- $ := .context }}
{{- $exp := $.Values.monitoring.exporter }}
- name: metrics
  image: "{{ $exp.image.repository }}:{{ $exp.image.tag }}{{ with $exp.image.digest }}@{{ . }}{{ end }}"
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
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
    - name: REDIS_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ include "session-database.authSecretName" $ }}
          key: MONITOR_PASSWORD
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
  {{- if $.Values.tls.enabled }}
  volumeMounts:
    - name: tls
      mountPath: {{ .tlsDir }}
      readOnly: true
  {{- end }}
{{- end }}
