#!/usr/bin/env python3
"""Validate the generated desktop entry of download-atlas.

Usage: check-desktop-file.py DESKTOP_FILE APP_ID EXECUTABLE

Runs desktop-file-validate (any error or warning fails), then checks what the
validator cannot know: the file is named after the application ID (required
for DBusActivatable), it launches our executable with %U, it uses the app's
icon, and it does not claim http/https links, which belong to the browser.
"""

import configparser
import os
import subprocess
import sys


def main():
    path, app_id, executable = sys.argv[1:4]
    problems = []

    proc = subprocess.run(['desktop-file-validate', path],
                          capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or output:
        problems.append('desktop-file-validate (exit %d):\n%s'
                        % (proc.returncode, output))

    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding='utf-8')
    if not parser.has_section('Desktop Entry'):
        problems.append('no [Desktop Entry] group')
        entry = {}
    else:
        entry = dict(parser['Desktop Entry'])

    def expect(key, value):
        if entry.get(key) != value:
            problems.append('%s is %r, expected %r' % (key, entry.get(key), value))

    if os.path.basename(path) != app_id + '.desktop':
        problems.append('file is named %s, expected %s.desktop (DBusActivatable '
                        'needs the application ID)' % (os.path.basename(path), app_id))
    expect('Exec', executable + ' %U')
    expect('Icon', app_id)
    expect('DBusActivatable', 'true')
    expect('StartupNotify', 'true')
    expect('GenericName', 'Download Manager')
    for key in ('Name', 'Comment', 'Keywords'):
        if not entry.get(key):
            problems.append('%s is missing or empty' % key)

    categories = entry.get('Categories', '').split(';')
    for wanted in ('Network', 'FileTransfer', 'GTK', 'GNOME'):
        if wanted not in categories:
            problems.append('Categories lacks %s' % wanted)

    mime_types = [m for m in entry.get('MimeType', '').split(';') if m]
    for wanted in ('application/metalink4+xml', 'application/metalink+xml'):
        if wanted not in mime_types:
            problems.append('MimeType lacks %s' % wanted)
    for scheme in ('http', 'https'):
        if 'x-scheme-handler/' + scheme in mime_types:
            problems.append('MimeType claims x-scheme-handler/%s, which belongs '
                            'to the web browser' % scheme)

    if problems:
        print('FAIL %s:' % path)
        for problem in problems:
            print('  - ' + problem)
        return 1
    print('ok %s' % path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
