#!/bin/sh
# Runs one UI test program on its own Xvfb display, as STYLE.md asks: GTK's
# accessibility in test mode, settings in memory, a private session bus so
# GApplication and GNotification work, and the X server stopped by its PID.
# Usage: run-under-xvfb.sh PROGRAM [ARGS...]
set -eu

if ! command -v Xvfb >/dev/null 2>&1; then
  echo "Bail out! Xvfb is not installed (tools/install-deps test installs it)"
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/atlas-ui.XXXXXX")
xvfb_pid=""
bus_pid=""
cleanup() {
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && wait "$xvfb_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# -displayfd picks a free display number and tells us which one.
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$tmp/display" 2>"$tmp/xvfb.log" &
xvfb_pid=$!
n=0
while [ ! -s "$tmp/display" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
if [ ! -s "$tmp/display" ]; then
  cat "$tmp/xvfb.log" >&2
  echo "Bail out! Xvfb did not start"
  exit 1
fi
DISPLAY=":$(cat "$tmp/display")"
export DISPLAY
unset WAYLAND_DISPLAY

if command -v dbus-daemon >/dev/null 2>&1; then
  dbus-daemon --session --nofork --nopidfile --address="unix:path=$tmp/bus" \
    --print-address=4 4>"$tmp/bus-address" >/dev/null 2>&1 &
  bus_pid=$!
  n=0
  while [ ! -s "$tmp/bus-address" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
  DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$tmp/bus-address")
  export DBUS_SESSION_BUS_ADDRESS
fi

export GTK_A11Y=test
export GSETTINGS_BACKEND=memory
export GSK_RENDERER=cairo
export GDK_BACKEND=x11
export NO_AT_BRIDGE=1
export XDG_DATA_HOME="$tmp/data"
export XDG_CONFIG_HOME="$tmp/config"
export XDG_CACHE_HOME="$tmp/cache"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"

"$@"
