{{- define "postern.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "postern.labels" -}}
app.kubernetes.io/name: postern
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "postern.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "postern.name" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "postern.image" -}}
{{- if .digest -}}{{ .repository }}@{{ .digest }}{{- else -}}{{ .repository }}:{{ .tag }}{{- end -}}
{{- end -}}

{{/* The Pod Security Standards "restricted" profile, for every container. */}}
{{- define "postern.restricted" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities: { drop: ["ALL"] }
seccompProfile: { type: RuntimeDefault }
{{- end -}}

{{/* The pods Postern runs in: this chart's, or the existing workload's in sidecar mode. */}}
{{- define "postern.podSelector" -}}
{{- if eq .Values.mode "sidecar" -}}{{ toYaml .Values.sidecar.podLabels }}{{- else -}}{{ include "postern.labels" . }}{{- end -}}
{{- end -}}

{{/* The pod volumes Postern and spiffe-helper need. */}}
{{- define "postern.volumes" -}}
- name: config
  configMap:
    name: {{ include "postern.name" . }}-config
- name: state
  emptyDir: {}
{{- if eq .Values.spiffe.provider "csi-spiffe" }}
- name: spiffe
  emptyDir: { medium: Memory }
- name: spire-agent-socket
  csi: { driver: csi.spiffe.io, readOnly: true }
{{- else }}
- name: spiffe
  csi:
    driver: spiffe.csi.cert-manager.io
    readOnly: true
    volumeAttributes:
      csi.cert-manager.io/issuer-name: {{ required "spiffe.certManager.issuer is required with provider cert-manager" .Values.spiffe.certManager.issuer }}
      csi.cert-manager.io/fs-group: "65532"
{{- end }}
{{- range $function, $secret := .Values.secrets.upstreamCredentials }}
- name: credential-{{ $function }}
  secret:
    secretName: {{ $secret.secretName }}
    items: [{ key: {{ $secret.key }}, path: {{ $function }} }]
{{- end }}
{{- with .Values.secrets.auditKey.secretName }}
- name: audit-key
  secret:
    secretName: {{ . }}
    items: [{ key: {{ $.Values.secrets.auditKey.key }}, path: key.pem }]
{{- end }}
{{- range .Values.secrets.extra }}
- name: {{ .name }}
  secret: { secretName: {{ .secretName }} }
{{- end }}
{{- end -}}
