#!/usr/bin/env bash
# Installs what the demo and the end-to-end tests run besides Go: nginx (the
# ALB's stand-in), curl (the walkthrough's test request), iproute2, git, make.
# Debian packages only; idempotent and quiet when everything is there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for tool in nginx:nginx curl:curl git:git make:make ip:iproute2; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || need+=("${tool#*:}")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package starts a system nginx on :80; tests and the demo run their own.
  service nginx stop >/dev/null 2>&1 || pkill -x nginx || true
fi
