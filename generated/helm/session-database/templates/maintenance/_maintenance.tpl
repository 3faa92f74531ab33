{{/* The cron schedule of an interval in seconds: every N minutes where N divides an hour,
every N hours where N divides a day, daily, weekly. Any other interval has no evenly spaced
cron form and fails the render (in the spec, rule cleanup-schedule reports it). */}}
{{- define "session-database.cronSchedule" -}}
{{- $s := int . }}
{{- $m := div $s 60 }}
{{- if or (lt $s 60) (ne (mod $s 60) 0) }}
{{- fail (printf "cleanup interval %d s: cron counts whole minutes; use a multiple of 60" $s) }}
{{- else if and (lt $m 60) (eq (mod 60 $m) 0) }}*/{{ $m }} * * * *
{{- else if eq $m 60 }}0 * * * *
{{- else if and (lt $m 1440) (eq (mod $m 60) 0) (eq (mod 1440 $m) 0) }}0 */{{ div $m 60 }} * * *
{{- else if eq $m 1440 }}0 0 * * *
{{- else if eq $m 10080 }}0 0 * * 0
{{- else }}
{{- fail (printf "cleanup interval %d s: no cron schedule runs it evenly; use minutes dividing an hour, hours dividing a day, a day or a week" $s) }}
{{- end }}
{{- end }}

{{/* Where a cleanup job finds its database; call with (dict "context" $ "database" "sessions").
The one place that says which server a job talks to: env items REDIS_DB and, in ha mode, the
Sentinels' Service and master set (the job asks them for the master), else the data pod's
Service. */}}
{{- define "session-database.maintenance.target" -}}
{{- $ := .context }}
{{- $suffix := include "session-database.dnsSuffix" $ }}
{{- /* the cache on its own group (cache.group: separate): its master set, its pods */}}
{{- $ownGroup := and (eq .database "cache") (eq $.Values.cache.group "separate") }}
- name: REDIS_DB
  value: {{ ternary "0" "1" (eq .database "sessions") | quote }}
{{- if eq $.Values.mode "ha" }}
- name: SENTINEL_HOST
  value: "{{ include "session-database.sentinel.fullname" $ }}.{{ $suffix }}"
- name: SENTINEL_PORT
  value: {{ $.Values.sentinel.port | quote }}
- name: MASTER_SET
  value: {{ ternary $.Values.cache.masterSet $.Values.sentinel.masterSet $ownGroup | quote }}
{{- else }}
- name: REDIS_HOST
  value: "{{ ternary (include "session-database.cache.headless" $) (include "session-database.redis.fullname" $) $ownGroup }}.{{ $suffix }}"
- name: REDIS_PORT
  value: {{ $.Values.redis.port | quote }}
{{- end }}
{{- end }}
