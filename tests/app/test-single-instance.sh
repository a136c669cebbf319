#!/usr/bin/env bash
# One Download Atlas per session: a second `download-atlas URL` or
# `download-atlas file.meta4` hands its work to the running instance over
# D-Bus and exits; the running app downloads it into the user's download
# folder; app.quit closes the queue cleanly, so the CLI then reads it.
# Run by meson under tests/app/run-under-xvfb.sh (display + private bus).
set -u
. "$ATLAS_SOURCE_ROOT/tests/integration/lib.sh"
: "${ATLAS_APP:?ATLAS_APP must point to download-atlas}"

APP_ID=org.downloadatlas.DownloadAtlas
# GLib reads the download folder from user-dirs.dirs, not from the environment.
printf 'XDG_DOWNLOAD_DIR="%s"\n' "$XDG_DOWNLOAD_DIR" >"$XDG_CONFIG_HOME/user-dirs.dirs"
export ATLAS_QUEUE_FILE="$T/app-queue.sqlite"

plan 6
mkdir -p "$T/root"
make_file "$T/root/one.bin" 3
make_file "$T/root/two.bin" 5
start_mirror "$T/root" "$T/mirror.log"
make_meta4 "$T/root/two.bin" two.bin "$T/two.meta4" "$BASE/-/two.bin"

name_owned() {
    gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner "$APP_ID" 2>/dev/null | grep -q true
}
file_is() { [ -f "$XDG_DOWNLOAD_DIR/$1" ] && cmp -s "$XDG_DOWNLOAD_DIR/$1" "$T/root/$1"; }

"$ATLAS_APP" >"$T/app.out" 2>"$T/app.err" &
APP_PID=$!
track_pid "$APP_PID"
WAIT_TENTHS=100 wait_for name_owned
check "the first instance owns $APP_ID on the session bus" name_owned

# The second instance must return promptly: it only forwards the open.
timeout 10 "$ATLAS_APP" "$BASE/-/one.bin" >"$T/out" 2>"$T/err"; RC=$?
check "a second instance with a URL hands it over and exits 0" rc_is 0
WAIT_TENTHS=300 wait_for file_is one.bin
check "the running app downloaded the URL into the download folder" file_is one.bin

timeout 10 "$ATLAS_APP" "$T/two.meta4" >"$T/out" 2>"$T/err"; RC=$?
WAIT_TENTHS=300 wait_for file_is two.bin
check "a Metalink given to a second instance is downloaded and verified" file_is two.bin

# Quit through the app's exported action, as the desktop would.
gdbus call --session --dest "$APP_ID" --object-path /org/downloadatlas/DownloadAtlas \
    --method org.freedesktop.Application.ActivateAction quit '[]' '{}' >"$T/out" 2>"$T/err"
app_gone() { ! kill -0 "$APP_PID" 2>/dev/null; }
WAIT_TENTHS=100 wait_for app_gone
check "app.quit ends the app" app_gone

run_atlas list --queue-file "$ATLAS_QUEUE_FILE"
queue_ok() { rc_is 0 && out_has one.bin && out_has two.bin && [ "$(grep -c complete "$T/out")" -ge 2 ]; }
check "the queue the app closed lists both downloads as complete" queue_ok
finish
