{{/* Names and labels. */}}
{{- define "nauthera.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nauthera.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: nauthera
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "nauthera.operator.selector" -}}
app.kubernetes.io/name: nauthera-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nauthera.keycloak.selector" -}}
app.kubernetes.io/name: keycloak
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nauthera.serviceAccountName" -}}
{{- default (include "nauthera.fullname" .) .Values.operator.serviceAccount.name -}}
{{- end -}}

{{- define "nauthera.keycloak.fullname" -}}
{{- printf "%s-keycloak" (include "nauthera.fullname" .) -}}
{{- end -}}

{{/* The Secret holding the Keycloak admin credentials the operator uses. */}}
{{- define "nauthera.keycloak.adminSecret" -}}
{{- if .Values.keycloak.enabled -}}
{{- default (printf "%s-admin" (include "nauthera.keycloak.fullname" .)) .Values.keycloak.admin.existingSecret -}}
{{- else -}}
{{- required "keycloak.external.adminSecret is required when keycloak.enabled is false" .Values.keycloak.external.adminSecret -}}
{{- end -}}
{{- end -}}

{{/* The URL the operator reaches Keycloak at. */}}
{{- define "nauthera.keycloak.url" -}}
{{- if .Values.keycloak.enabled -}}
{{- printf "http://%s.%s.svc:%d" (include "nauthera.keycloak.fullname" .) .Release.Namespace (int .Values.keycloak.service.port) -}}
{{- else -}}
{{- required "keycloak.external.url is required when keycloak.enabled is false" .Values.keycloak.external.url -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the operator watches in installMode namespaces. */}}
{{- define "nauthera.watchNamespaces" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- join "," .Values.operator.watchNamespaces -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "nauthera.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Admission webhook: the Service the API server calls, and the Secret the
serving certificate is read from. The operator's cert-controller fills
<fullname>-webhook-cert; cert-manager writes <fullname>-webhook-tls. Two names,
so switching between the two never makes Helm and cert-manager fight over one
Secret. */}}
{{- define "nauthera.webhook.serviceName" -}}
{{- printf "%s-webhook" (include "nauthera.fullname" .) -}}
{{- end -}}

{{- define "nauthera.webhook.certificateName" -}}
{{- printf "%s-webhook" (include "nauthera.fullname" .) -}}
{{- end -}}

{{- define "nauthera.webhook.secretName" -}}
{{- if .Values.webhook.certManager.enabled -}}
{{- printf "%s-webhook-tls" (include "nauthera.fullname" .) -}}
{{- else -}}
{{- printf "%s-webhook-cert" (include "nauthera.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "nauthera.webhook.certDir" -}}
/tmp/k8s-webhook-server/serving-certs
{{- end -}}

{{- define "nauthera.webhook.labels" -}}
{{ include "nauthera.labels" . }}
app.kubernetes.io/component: webhook
{{- end -}}

{{/* The admin realm the operator logs in to. */}}
{{- define "nauthera.keycloak.adminRealm" -}}
{{- if .Values.keycloak.enabled }}master{{ else }}{{ .Values.keycloak.external.adminRealm }}{{ end -}}
{{- end -}}

{{/* operator.keycloakAuth federated-jwt: the audience of the operator's token. */}}
{{- define "nauthera.keycloak.tokenAudience" -}}
{{- default (printf "%s/realms/%s" (include "nauthera.keycloak.url" . | trimSuffix "/") (include "nauthera.keycloak.adminRealm" .)) .Values.operator.federatedJWT.audience -}}
{{- end -}}

{{/* operator.keycloakAuth federated-jwt: the Secret the bootstrap hook reads and deletes. */}}
{{- define "nauthera.keycloak.bootstrapSecret" -}}
{{- if .Values.operator.federatedJWT.bootstrap.existingSecret -}}
{{- .Values.operator.federatedJWT.bootstrap.existingSecret -}}
{{- else if .Values.keycloak.enabled -}}
{{- include "nauthera.keycloak.adminSecret" . -}}
{{- else -}}
{{- fail "operator.keycloakAuth federated-jwt with an external Keycloak needs operator.federatedJWT.bootstrap.existingSecret (or bootstrap.enabled false and a bootstrap run by hand)" -}}
{{- end -}}
{{- end -}}
