{{- define "fail-include.mode" -}}
{{- if not (has .Values.mode (list "active" "passive")) -}}
{{- fail (printf "mode must be active or passive, got %q" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end }}
