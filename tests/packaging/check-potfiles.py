#!/usr/bin/env python3
"""Check the gettext set-up in po/.

Usage: check-potfiles.py SOURCE_ROOT PACKAGE VERSION

Fails when:
- a file listed in po/POTFILES.in does not exist;
- a file with translatable strings is listed in neither po/POTFILES.in nor
  po/POTFILES.skip, so a new source file cannot be forgotten. Scanned:
  C files under src/app and src/cli that call _(), N_(), C_() or NC_(),
  .ui files under ui/ with translatable="yes", and the desktop entry,
  metainfo and GSettings schemas under data/;
- xgettext, run the way `ninja download-atlas-pot` runs it (meson's 'glib'
  preset), fails or warns;
- a listed file with translatable strings yields no message in the template
  (xgettext did not understand it, e.g. a missing ITS rule).
"""

import os
import re
import subprocess
import sys
import tempfile

# meson 1.0's i18n 'glib' preset (mesonbuild/modules/i18n.py, PRESET_ARGS).
GLIB_PRESET = [
    '--from-code=UTF-8', '--add-comments',
    '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format', '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format', '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format', '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
    '--flag=g_markup_printf_escaped:1:c-format', '--flag=g_log:3:c-format',
    '--flag=g_print:1:c-format', '--flag=g_printerr:1:c-format',
    '--flag=g_printf:1:c-format', '--flag=g_fprintf:2:c-format',
    '--flag=g_sprintf:2:c-format', '--flag=g_snprintf:3:c-format',
]

C_MARKER = re.compile(r'(?<![A-Za-z0-9_])(?:N|C|NC)?_\s*\(|\bg_d(?:c|n|p)gettext2?\s*\(')
UI_MARKER = re.compile(r'translatable\s*=\s*["\'](?:yes|true|1)["\']', re.I)
DATA_PATTERNS = (
    re.compile(r'\.desktop\.in(\.in)?$'),
    re.compile(r'\.(metainfo|appdata)\.xml\.in(\.in)?$'),
    re.compile(r'\.gschema\.xml$'),
)


def read_list(path):
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                entries.append(line)
    return entries


def has_translatable_strings(root, relpath):
    with open(os.path.join(root, relpath), encoding='utf-8', errors='replace') as f:
        content = f.read()
    if relpath.endswith(('.c', '.h')):
        # Comments may mention _( without translating anything.
        content = re.sub(r'/\*.*?\*/|//[^\n]*', '', content, flags=re.S)
        return bool(C_MARKER.search(content))
    if relpath.endswith('.ui'):
        return bool(UI_MARKER.search(content))
    return any(p.search(relpath) for p in DATA_PATTERNS)


def candidates(root):
    scans = (('src/app', ('.c', '.h')), ('src/cli', ('.c', '.h')), ('ui', ('.ui',)),
             ('data', ('.in', '.xml')))
    for top, suffixes in scans:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(suffixes):
                    rel = os.path.relpath(os.path.join(dirpath, name), root)
                    yield rel.replace(os.sep, '/')


def main():
    root, package, version = sys.argv[1:4]
    potfiles_in = os.path.join(root, 'po', 'POTFILES.in')
    listed = read_list(potfiles_in)
    skipped = read_list(os.path.join(root, 'po', 'POTFILES.skip'))
    problems = []

    if not listed:
        problems.append('po/POTFILES.in is missing or empty')
    for dup in sorted({f for f in listed if listed.count(f) > 1}):
        problems.append('po/POTFILES.in lists %s twice' % dup)
    missing = [f for f in listed if not os.path.isfile(os.path.join(root, f))]
    for f in missing:
        problems.append('po/POTFILES.in lists %s, which does not exist' % f)
    for f in skipped:
        if f in listed:
            problems.append('%s is in both POTFILES.in and POTFILES.skip' % f)

    translatable = [f for f in candidates(root) if has_translatable_strings(root, f)]
    for f in translatable:
        if f not in listed and f not in skipped:
            problems.append('%s has translatable strings but is in neither '
                            'po/POTFILES.in nor po/POTFILES.skip' % f)

    existing = [f for f in listed if f not in missing]
    with tempfile.TemporaryDirectory() as tmp:
        files_from = os.path.join(tmp, 'POTFILES')
        with open(files_from, 'w', encoding='utf-8') as f:
            f.write('\n'.join(existing) + '\n')
        pot = os.path.join(tmp, package + '.pot')
        cmd = ['xgettext', '--package-name=' + package, '--package-version=' + version,
               '--default-domain=' + package, '--directory=' + root,
               '--files-from=' + files_from, '--output=' + pot] + GLIB_PRESET
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            problems.append('xgettext (exit %d):\n%s' % (proc.returncode, proc.stderr.strip()))
            if 'not a valid C format string' in proc.stderr:
                # xgettext does not expand macros, so the catalogue would get a
                # truncated msgid that never matches the string at run time.
                problems.append('hint: a translatable string cannot contain a macro such as '
                                'G_GUINT64_FORMAT; format the number into a string first '
                                'and translate "... %s ..."')
        pot_text = ''
        if os.path.exists(pot):
            with open(pot, encoding='utf-8') as f:
                pot_text = f.read()
            check = subprocess.run(['msgfmt', '--check-format', '--output-file=/dev/null', pot],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                problems.append('msgfmt --check-format on the template:\n' + check.stderr.strip())
        elif proc.returncode == 0:
            problems.append('xgettext wrote no template')

    referenced = set()
    for line in pot_text.splitlines():
        if line.startswith('#: '):
            for ref in line[3:].split():
                referenced.add(ref.rsplit(':', 1)[0])
    for f in existing:
        if has_translatable_strings(root, f) and f not in referenced:
            problems.append('%s is listed and marks strings, but xgettext took no '
                            'message from it' % f)

    if problems:
        print('FAIL po/ set-up:')
        for problem in problems:
            print('  - ' + problem)
        return 1
    messages = pot_text.count('\nmsgid ') - 1  # the header is msgid ""
    print('ok: %d files listed, %d messages in the template' % (len(listed), messages))
    return 0


if __name__ == '__main__':
    sys.exit(main())
