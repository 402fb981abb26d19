# Nauthera — Kubernetes operator that provisions OIDC clients in Keycloak.
#
# Everything the targets need is built or fetched into bin/, keyed by version,
# so a second run is fast and a fresh clone needs only Go, a JDK and Maven.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

ROOT := $(abspath .)
BIN := $(ROOT)/bin
export GOFLAGS ?= -buildvcs=false

# Pinned versions.
CONTROLLER_GEN_VERSION ?= v0.23.0
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
HELM_VERSION ?= 3.22.0
KEYCLOAK_VERSION ?= 26.7.3
export K8S_VERSION ETCD_VERSION HELM_VERSION KEYCLOAK_VERSION

CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)

# golangci-lint and the kube-api-linter plugin are pinned in .custom-gcl.yml
# (the file `golangci-lint custom` reads): the top-level version is
# golangci-lint's, the indented one the plugin's.
GOLANGCI_LINT_VERSION := $(shell sed -n 's/^version: *//p' .custom-gcl.yml)
KUBE_API_LINTER_VERSION := $(shell sed -n 's/^[[:space:]][[:space:]]*version: *//p' .custom-gcl.yml)
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
GOLANGCI_LINT_KAL := $(BIN)/golangci-lint-kal-$(GOLANGCI_LINT_VERSION)-$(KUBE_API_LINTER_VERSION)
ENVTEST_ASSETS := $(BIN)/k8s/$(K8S_VERSION)-etcd$(ETCD_VERSION)-$(shell go env GOOS)-$(shell go env GOARCH)
KEYCLOAK_HOME := $(BIN)/keycloak/$(KEYCLOAK_VERSION)/keycloak-$(KEYCLOAK_VERSION)

# Files written by generators; `make verify` fails when they differ from git.
GENERATED := config/crd/bases config/rbac/role.yaml config/webhook/manifests.yaml apis/auth/v1alpha1/zz_generated.deepcopy.go charts/nauthera/crds

GO_TEST_FLAGS ?= -v -count=1 -timeout=40m

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and the webhook configuration into config/.
	$(CONTROLLER_GEN) crd paths=./apis/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=nauthera-manager paths=./controllers/... output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) webhook paths=./internal/admission/... output:webhook:artifacts:config=config/webhook

.PHONY: chart-crds
chart-crds: manifests ## Copy the generated CRDs into the Helm chart.
	rm -f charts/nauthera/crds/*.yaml
	cp config/crd/bases/*.yaml charts/nauthera/crds/

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./apis/...

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT_KAL) ## Run golangci-lint, with kube-api-linter on apis/ (.golangci.yml; the linter is built once into bin/).
	$(GOLANGCI_LINT_KAL) run ./...

.PHONY: verify
verify: manifests generate chart-crds ## Fail if generated files are not up to date.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
	  echo "Generated files are stale: run 'make manifests generate chart-crds' and commit the result:"; \
	  git status --porcelain -- $(GENERATED); git diff --stat -- $(GENERATED); exit 1; \
	fi
	@if [ -n "$$(gofmt -l $$(git ls-files '*.go'))" ]; then echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; fi

##@ Demo

.PHONY: demo
demo: ## Run Nauthera locally: control plane, Keycloak and the operator as processes; applies config/samples and a local AuthServer/AuthClient, shows a token and a login URL that work here (DEMO_EXIT=1 stops at once).
	@echo "Compiling the demo driver (1 to 3 minutes the first time, while Go fetches and compiles its modules)..."
	@CGO_ENABLED=0 go build -o $(BIN)/nauthera-demo ./hack/demo
	@hack/with-cleanup.sh $(BIN)/nauthera-demo

##@ Test

.PHONY: test
test: verify vet build envtest-assets keycloak-dist ## Run unit, envtest and Keycloak integration tests (builds the test bed first).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" \
	  hack/with-cleanup.sh go test $(GO_TEST_FLAGS) ./... 2>&1 | tee $(BIN)/test.log
	@hack/test-summary.sh $(BIN)/test.log

.PHONY: e2e
e2e: build envtest-assets keycloak-dist ## End-to-end: the operator binary, kubectl and helm against a real API server and Keycloak.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/with-cleanup.sh go test -v -count=1 -timeout=20m ./e2e/ 2>&1 | tee $(BIN)/e2e.log
	@hack/test-summary.sh $(BIN)/e2e.log

.PHONY: e2e-cluster
e2e-cluster: envtest-assets keycloak-dist ## A real single-node cluster (kubelet, containerd, CNI, kube-proxy, CoreDNS) in network namespaces of its own; helm install from the README; proofs in pods.
	hack/with-cleanup.sh hack/e2e-cluster.sh 2>&1 | tee $(BIN)/e2e-cluster.log
	@hack/test-summary.sh $(BIN)/e2e-cluster.log

# The oldest Keycloak Nauthera supports (pkg/kcversion.Oldest), and the
# controllers tests that run against it besides the whole Keycloak
# integration package: realm, client, Secret, policy, rotation, LDAP,
# secretless, drift, role grants and the version checks
# (docs/operations/keycloak-versions.md).
KEYCLOAK_RANGE_VERSION ?= 26.4.0
KEYCLOAK_RANGE_TESTS ?= ^(TestSpecExampleProvisionsClientAndSecret|TestCredentialsAreAcceptedByKeycloak|TestEditingRedirectURIsKeepsSecret|TestConsoleDriftIsRepaired|TestRestartMakesNoWrites|TestDeletionPolicies|TestRealmOwnership|TestPublicAndServiceAccountClients|TestSpecPolicyGovernsTheSpecClient|TestPolicyTokenLifetimesAndGrants|TestPolicyEnforcesPKCE|TestScheduledRotationWithGracePeriod|TestRequestedRotationAndRevoke|TestInterruptedRotationIsCompletedNotRepeated|TestUserStoreFederatesLDAP|TestUserStoreRepointAndOrphan|TestKeycloakVersionInStatus|TestKeycloakVersionUnsupported|TestFeatureNeedsKeycloak|TestKeycloakVersionOdd|TestDriftFromAdminEvents|TestDriftRoleDeletedRestoresGrants|TestGranteeBeforeTargetRestoresTheRole|TestRoleGrantsNeedTheTargetsConsent)$$

.PHONY: test-keycloak-range
test-keycloak-range: envtest-assets ## Run the Keycloak integration package and a controllers subset against the oldest supported Keycloak (KEYCLOAK_RANGE_VERSION, default 26.4.0; fetched and built once). Log: bin/test-keycloak-range.log.
	@KEYCLOAK_VERSION=$(KEYCLOAK_RANGE_VERSION) hack/keycloak.sh fetch >/dev/null
	@mkdir -p $(BIN); : >$(BIN)/test-keycloak-range.log
	@# Both halves run (one Keycloak each, one after the other), then the summary decides.
	rc=0; export KEYCLOAK_VERSION=$(KEYCLOAK_RANGE_VERSION) KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)"; \
	  hack/with-cleanup.sh go test -v -count=1 -timeout=20m ./pkg/keycloak/ 2>&1 | tee -a $(BIN)/test-keycloak-range.log || rc=1; \
	  hack/with-cleanup.sh go test -v -count=1 -timeout=20m -run '$(KEYCLOAK_RANGE_TESTS)' ./controllers/ 2>&1 | tee -a $(BIN)/test-keycloak-range.log || rc=1; \
	  hack/test-summary.sh $(BIN)/test-keycloak-range.log || rc=1; exit $$rc

.PHONY: test-unit test-short
test-unit: ## Run the pure logic of every package with no test bed (go test -short); prints how many tests ran, passed and skipped. Log: bin/test-unit.log.
	@mkdir -p $(BIN)
	@echo "go test -short -count=1 ./... (log: $(BIN)/test-unit.log)"
	@go test -short -v -count=1 ./... >$(BIN)/test-unit.log 2>&1; rc=$$?; \
	  hack/test-summary.sh --short $(BIN)/test-unit.log || rc=1; \
	  if [ $$rc -ne 0 ]; then echo "FAILED: see $(BIN)/test-unit.log"; fi; exit $$rc
test-short: test-unit ## Same as test-unit.

.PHONY: bench
bench: envtest-assets keycloak-dist ## Benchmark AuthClient -> Secret latency and Keycloak calls per client (real test bed).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/with-cleanup.sh \
	  go test ./controllers -run '^$$' -bench AuthClientToSecret -benchtime 25x -timeout 20m

.PHONY: bench-policy
bench-policy: envtest-assets keycloak-dist ## Benchmark an AuthPolicy edit reaching N governed clients (NAUTHERA_BENCH_CLIENTS, default 200).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/with-cleanup.sh \
	  go test ./controllers -run '^$$' -bench PolicyEdit -benchtime 3x -timeout 40m -v

.PHONY: bench-ldap
bench-ldap: keycloak-dist ## Benchmark a full sync of 1,000 LDAP users into a realm (real slapd and Keycloak).
	hack/with-cleanup.sh go test ./pkg/keycloak -run '^$$' -bench LDAPSync -benchtime 3x -timeout 20m

.PHONY: bench-scale
bench-scale: build envtest-assets keycloak-dist ## N AuthClients at once vs. the minimal Keycloak and Kubernetes work, then 3 client roles each and one changed (BENCH_N, default 1000; BENCH_ARGS for more flags, e.g. -roles 0).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" hack/with-cleanup.sh \
	  go run ./hack/benchscale -n $(or $(BENCH_N),1000) $(BENCH_ARGS)

##@ Test bed

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd, kubectl and helm from the Go module proxy (a no-op when done).
	@hack/build-control-plane.sh >/dev/null

.PHONY: keycloak-dist
keycloak-dist: ## Fetch Keycloak from Maven Central and build it once (a no-op when done).
	@hack/keycloak.sh fetch >/dev/null

.PHONY: keycloak-start
keycloak-start: keycloak-dist ## Start a local Keycloak (state in tmp/keycloak).
	hack/keycloak.sh start tmp/keycloak

.PHONY: keycloak-stop
keycloak-stop: ## Stop the local Keycloak started by keycloak-start.
	hack/keycloak.sh stop tmp/keycloak

##@ Build

.PHONY: build
build: ## Build the operator binary into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/nauthera ./cmd/nauthera

.PHONY: run
run: build ## Run the operator against the current kubeconfig and the Keycloak of `make keycloak-start`.
	$(BIN)/nauthera --log-format=console --keycloak-url=$$(sed -n 's/^KEYCLOAK_URL=//p' tmp/keycloak/env) \
	  --keycloak-admin-credentials-dir=hack/dev-admin --metrics-bind-address=:18080 --health-probe-bind-address=:18081

IMAGE_ARCHIVE ?= $(BIN)/nauthera-image.tar
IMAGE_TOOL := $(BIN)/image-tool

.PHONY: image
image: ## Build the operator image without a container engine: an OCI archive in bin/nauthera-image.tar.
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o $(BIN)/nauthera-linux ./cmd/nauthera
	CGO_ENABLED=0 go build -o $(IMAGE_TOOL) ./hack/image
	$(IMAGE_TOOL) build --binary $(BIN)/nauthera-linux --out $(IMAGE_ARCHIVE) --ref $(or $(IMAGE),nauthera:dev)

.PHONY: image-push
image-push: image ## Push the operator image to a registry: make image-push IMAGE=<registry>/<repo>:<tag> (credentials from ~/.docker/config.json; HTTPS, plain HTTP only to loopback unless ALLOW_PLAIN_HTTP=1).
	@if [ -z "$(IMAGE)" ]; then echo "IMAGE is required: make image-push IMAGE=<registry>/<repo>:<tag>"; exit 1; fi
	$(IMAGE_TOOL) push --archive $(IMAGE_ARCHIVE) --image $(IMAGE)$(if $(filter 1 true yes,$(ALLOW_PLAIN_HTTP)), --allow-plain-http)

.PHONY: docker-build
docker-build: ## Build the operator image (needs a container engine).
	docker build -t nauthera:dev .

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN)/.tmp-controller-gen go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/.tmp-controller-gen/controller-gen $@ && rmdir $(BIN)/.tmp-controller-gen

# Plain golangci-lint: only the builder of the binary below.
$(GOLANGCI_LINT):
	GOBIN=$(BIN)/.tmp-golangci-lint go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/.tmp-golangci-lint/golangci-lint $@ && rmdir $(BIN)/.tmp-golangci-lint

# golangci-lint with kube-api-linter built in, by `golangci-lint custom` fed
# from the Go module proxy (see the script).
$(GOLANGCI_LINT_KAL): $(GOLANGCI_LINT)
	hack/golangci-lint-custom.sh $(GOLANGCI_LINT) $@
