#!/usr/bin/env bash
# Installs every package tenant_backup needs to build, test and run its demo on Debian 12.
# Idempotent; needs root (or sudo). Only Debian's own archive is used.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# --demo: only what scripts/demo.sh needs: a compiler, PostgreSQL with its server headers (on
# Debian postgresql-server-dev-15 itself depends on clang-14 and llvm-14-dev, for JIT bitcode that
# this build does not make), and the libraries tenant_backup links. Without it: everything the
# tests need too (cmake and googletest for the unit tests, clang for the fuzzer, Swift for the S3
# tests, pg_cron, the Prometheus exporter).
DEMO_PACKAGES=(
  build-essential
  postgresql-15 postgresql-server-dev-15 postgresql-client-15
  libssl-dev libzstd-dev libcurl4-openssl-dev
)
PACKAGES=(
  "${DEMO_PACKAGES[@]}"
  cmake pkg-config git
  googletest libgtest-dev
  clang libclang-rt-14-dev
  libipc-run-perl perl
  python3
  postgresql-15-cron
  prometheus-postgres-exporter
  curl swift swift-proxy swift-object swift-container swift-account
)
if [ "${1:-}" = "--demo" ]; then
  PACKAGES=("${DEMO_PACKAGES[@]}")
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
