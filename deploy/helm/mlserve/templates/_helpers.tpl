{{/* Names and labels shared by every template. */}}
{{- define "mlserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mlserve.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; pass (dict "root" $ "component" "triton"). */}}
{{- define "mlserve.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "mlserve.selectorLabels" . }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "mlserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlserve.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mlserve.modelClaim" -}}
{{- default (printf "%s-models" (include "mlserve.fullname" .)) .Values.modelRepository.existingClaim -}}
{{- end -}}

{{- define "mlserve.authSecret" -}}
{{- default (printf "%s-auth" (include "mlserve.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "mlserve.stateSecret" -}}
{{- default (printf "%s-state" (include "mlserve.fullname" .)) .Values.stateStore.external.existingSecret -}}
{{- end -}}

{{/* Triton's Service name: ours, or the one the chart adds in front of the KServe predictor. */}}
{{- define "mlserve.tritonService" -}}
{{- printf "%s-triton" (include "mlserve.fullname" .) -}}
{{- end -}}

{{- define "mlserve.tritonArgs" -}}
- tritonserver
- --model-repository={{ .Values.modelRepository.mountPath }}
- --model-control-mode=explicit
- --load-model=*
- --strict-readiness=true
- --exit-on-error=false
- --http-port=8000
- --grpc-port=8001
- --metrics-port=8002
- --allow-metrics=true
- --allow-gpu-metrics=true
- --allow-cpu-metrics=true
- --metrics-interval-ms=2000
{{- if .Values.triton.responseCacheBytes }}
- --cache-config=local,size={{ .Values.triton.responseCacheBytes }}
{{- end }}
{{- range .Values.triton.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}
