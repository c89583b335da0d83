#!/usr/bin/env bash
# Make sure a Chromium is there for the dashboard's browser tests (Playwright drives it;
# no browser is downloaded). Installs Debian's `chromium` when missing and we are root.
set -euo pipefail
CHROMIUM=${PAM_CHROMIUM:-/usr/bin/chromium}
if command -v "$CHROMIUM" >/dev/null 2>&1; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "chromium: not installed; installing Debian's chromium (a minute or two)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  echo "chromium: $(chromium --version)"
  exit 0
fi
echo "error: no Chromium at $CHROMIUM for the dashboard's browser tests." >&2
echo "       Install it (Debian/Ubuntu: sudo apt-get install chromium), or set PAM_CHROMIUM" >&2
echo "       to a Chromium or Chrome binary." >&2
exit 1
