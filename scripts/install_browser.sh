#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the report's browser test (tests/test_inspect.py).
# Idempotent: does nothing when /usr/bin/chromium exists. Needs root (or sudo) and apt.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "/usr/bin/chromium is present"; exit 0
fi
SUDO=$( [ "$(id -u)" -eq 0 ] && echo "" || echo sudo )
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
