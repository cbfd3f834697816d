# shellcheck shell=bash
# Source this file, then call ensure_browser: installs Debian's Chromium when
# /usr/bin/chromium is missing (the browser tests drive it with playwright-core;
# Playwright's own browser downloads are not used).

ensure_browser() {
  local chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
  [ -x "$chromium" ] && return 0
  if [ "$chromium" != /usr/bin/chromium ]; then
    echo "ensure-browser: CHROMIUM_PATH=$chromium is not an executable" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "ensure-browser: installing chromium" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  [ -x "$chromium" ]
}
