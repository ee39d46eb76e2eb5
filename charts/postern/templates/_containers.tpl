{{/* Postern: every container of the chart runs under the restricted profile. */}}
{{- define "postern.posternContainer" -}}
- name: postern
  image: {{ include "postern.image" .Values.postern.image }}
  imagePullPolicy: {{ .Values.postern.pullPolicy }}
  args: ["run", "--config", "/etc/postern/postern.yaml"{{ range .Values.postern.args }}, {{ . | quote }}{{ end }}]
  env:
    - { name: POSTERN_STATE_DIR, value: /var/lib/postern }
    - name: POD_NAME
      valueFrom: { fieldRef: { fieldPath: metadata.name } }
  ports:
    - { name: proxy, containerPort: {{ .Values.postern.port }} }
    - { name: health, containerPort: {{ .Values.postern.healthPort }} }
  # No credential needed on the health port; the admin API stays on loopback.
  startupProbe:
    httpGet: { path: /healthz, port: health }
    periodSeconds: 2
    failureThreshold: 60
  readinessProbe:
    httpGet: { path: /readyz, port: health }
    periodSeconds: 5
  livenessProbe:
    httpGet: { path: /healthz, port: health }
    periodSeconds: 10
  # Endpoints stop sending new callers before Postern stops taking them; then SIGTERM drains.
  lifecycle:
    preStop: { sleep: { seconds: 5 } }
  resources: {{ toYaml .Values.postern.resources | nindent 4 }}
  securityContext: {{- include "postern.restricted" . | nindent 4 }}
  volumeMounts:
    - { name: config, mountPath: /etc/postern, readOnly: true }
    - { name: spiffe, mountPath: /run/spiffe, readOnly: true }
    - { name: state, mountPath: /var/lib/postern }
    {{- range $function, $secret := .Values.secrets.upstreamCredentials }}
    - { name: credential-{{ $function }}, mountPath: /var/run/secrets/postern/{{ $function }}, subPath: {{ $function }}, readOnly: true }
    {{- end }}
    {{- if .Values.secrets.auditKey.secretName }}
    - { name: audit-key, mountPath: /var/run/secrets/postern/audit, readOnly: true }
    {{- end }}
    {{- range .Values.secrets.extra }}
    - { name: {{ .name }}, mountPath: {{ .mountPath }}, readOnly: true }
    {{- end }}
{{- end -}}

{{/* spiffe-helper: writes the SVID, key and bundles Postern reads; Postern notices changes. */}}
{{- define "postern.helperContainer" -}}
- name: spiffe-helper
  image: {{ include "postern.image" .Values.spiffe.helper.image }}
  args: ["-config", "/etc/postern/helper.conf"]
  resources: {{ toYaml .Values.spiffe.helper.resources | nindent 4 }}
  securityContext: {{- include "postern.restricted" . | nindent 4 }}
  volumeMounts:
    - { name: config, mountPath: /etc/postern, readOnly: true }
    - { name: spiffe, mountPath: /run/spiffe }
    - { name: spire-agent-socket, mountPath: /run/spire/sockets, readOnly: true }
{{- end -}}
