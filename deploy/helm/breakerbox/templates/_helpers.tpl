{{/* The name of every object: <release>-breakerbox, or the release alone when it already says breakerbox. */}}
{{- define "breakerbox.fullname" -}}
{{- if contains "breakerbox" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-breakerbox" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "breakerbox.selectorLabels" -}}
app.kubernetes.io/name: breakerbox
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "breakerbox.labels" -}}
{{ include "breakerbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* True (non-empty) when the values name a Redis store. */}}
{{- define "breakerbox.redis" -}}
{{- if or .Values.redis.url .Values.redis.sentinels .Values.redis.clusterNodes -}}true{{- end -}}
{{- end -}}

{{/* The chart's own Secret holds what the values give inline; empty when there is nothing to hold. */}}
{{- define "breakerbox.ownSecretData" -}}
{{- if and .Values.apiKeys.entries (not .Values.apiKeys.existingSecret) }}
{{- $entries := list -}}
{{- range .Values.apiKeys.entries -}}
{{- $entries = append $entries (printf "%s:%s:%s" .name .role .key) -}}
{{- end }}
BREAKERBOX_API_KEYS: {{ join "," $entries | b64enc | quote }}
{{- end }}
{{- if and .Values.permitSecret.value (not .Values.permitSecret.existingSecret) }}
BREAKERBOX_PERMIT_SECRET: {{ .Values.permitSecret.value | b64enc | quote }}
{{- if .Values.permitSecret.previous }}
BREAKERBOX_PERMIT_SECRET_PREVIOUS: {{ .Values.permitSecret.previous | b64enc | quote }}
{{- end }}
{{- end }}
{{- if not .Values.redis.existingSecret }}
{{- if .Values.redis.password }}
REDIS_PASSWORD: {{ .Values.redis.password | b64enc | quote }}
{{- end }}
{{- if .Values.redis.username }}
REDIS_USERNAME: {{ .Values.redis.username | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Refuses values that would make a broken release, with a message naming the value. */}}
{{- define "breakerbox.validate" -}}
{{- $modes := 0 -}}
{{- range (list .Values.redis.url .Values.redis.sentinels .Values.redis.clusterNodes) -}}{{- if . -}}{{- $modes = add1 $modes -}}{{- end -}}{{- end -}}
{{- if gt $modes 1 -}}{{- fail "redis: set only one of url, sentinels, clusterNodes" -}}{{- end -}}
{{- if and .Values.redis.sentinels (not .Values.redis.sentinelName) -}}{{- fail "redis.sentinelName: required with redis.sentinels (the master name the sentinels monitor)" -}}{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "breakerbox.redis" .)) -}}
{{- fail "replicaCount > 1 needs redis.url, redis.sentinels or redis.clusterNodes: with the in-memory store each replica would hold its own circuits" -}}
{{- end -}}
{{- if or (hasKey .Values.config "api_keys") (hasKey .Values.config "permit_secret") (hasKey .Values.config "permit_secret_previous") -}}
{{- fail "config: api_keys and permit secrets do not belong in the config file (a ConfigMap): use apiKeys and permitSecret" -}}
{{- end -}}
{{- range .Values.apiKeys.entries -}}
{{- if not (and .name .role .key) -}}{{- fail "apiKeys.entries: each entry needs name, role and key" -}}{{- end -}}
{{- end -}}
{{- range $name, $_ := .Values.env -}}
{{- if has $name (list "BREAKERBOX_API_KEYS" "BREAKERBOX_PERMIT_SECRET" "BREAKERBOX_PERMIT_SECRET_PREVIOUS" "REDIS_PASSWORD" "REDIS_USERNAME") -}}
{{- fail (printf "env.%s: a secret does not belong in env (plain in the Deployment): use apiKeys, permitSecret or redis" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* An env entry read from a Secret: the existing one when named, else the chart's. */}}
{{- define "breakerbox.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}
