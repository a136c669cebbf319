#!/usr/bin/env python3
"""Check flatpak/org.downloadatlas.DownloadAtlas.json against the meson build.

Usage: check-flatpak-manifest.py MANIFEST SOURCE_ROOT

No network here, so nothing is downloaded or built; this checks the manifest's
shape and that it agrees with meson:
- it is valid JSON without duplicate keys;
- app-id is meson's APPLICATION_ID, command is the app's executable, the
  runtime is org.gnome.Platform of RUNTIME_VERSION, and that runtime meets
  the version meson asks for of each library it provides;
- finish-args holds exactly the permissions justified in PERMISSIONS below
  (and in flatpak/README.md), and every one the app cannot work without;
- modules ⊇ (meson's dependency() names − what the runtime provides), and
  every module is either needed that way or listed in UPCOMING_PEER_MODULES;
- sources are pinned: archives by https URL + sha256, git by tag + commit;
  the app itself is built from this tree with -Dapp=enabled, last.
"""

import collections
import json
import os
import re
import sys

# org.gnome.Platform//43 (GNOME 43, freedesktop SDK 22.08): the oldest runtime
# with GTK 4.8 and libadwaita 1.2, the API level the app pins
# (GDK_VERSION_MAX_ALLOWED 4_8, ADW 1_2), matching Debian 12.
RUNTIME = 'org.gnome.Platform'
SDK = 'org.gnome.Sdk'
RUNTIME_VERSION = '43'

# pkg-config names the runtime provides, with the version it ships where we
# know it (major.minor). None: provided, version not pinned here; meson's
# check inside flatpak-builder is then the judge (see flatpak/README.md).
RUNTIME_PROVIDES = {
    'threads': None,            # glibc
    'glib-2.0': '2.74', 'gobject-2.0': '2.74', 'gio-2.0': '2.74', 'gio-unix-2.0': '2.74',
    'gtk4': '4.8',
    'libadwaita-1': '1.2',
    'gnutls': '3.7',
    'libsoup-3.0': '3.2',
    'json-glib-1.0': '1.6',
    # The freedesktop SDK builds libcurl against OpenSSL. meson asks for
    # plain 'libcurl' (the engine never touches curl's TLS objects), so any
    # TLS flavour will do and no curl-gnutls module is built.
    'libcurl': None,
    'sqlite3': None,
}

# What each module the manifest may build installs, as pkg-config names.
MODULE_PROVIDES = {
    'libnice': {'nice'},
    'ngtcp2': {'libngtcp2', 'libngtcp2_crypto_gnutls'},
}

# Built although meson does not ask for them yet: the peer-to-peer issue adds
# dependency('nice') and dependency('libngtcp2'/'libngtcp2_crypto_gnutls').
UPCOMING_PEER_MODULES = {'libnice', 'ngtcp2'}

# Pinned upstream versions (docs/ARCHITECTURE: libnice 0.1.21, ngtcp2 0.12.1).
MODULE_VERSIONS = {'libnice': '0.1.21', 'ngtcp2': '0.12.1'}

REQUIRED_CONFIG_OPTS = {
    'libnice': ['-Dcrypto-library=gnutls', '-Dgstreamer=disabled', '-Dtests=disabled',
                '-Dexamples=disabled'],
    # The engine speaks TLS through GnuTLS, so ngtcp2's GnuTLS crypto library;
    # OpenSSL's (the default) is off.
    'ngtcp2': ['-DENABLE_GNUTLS=ON', '-DENABLE_OPENSSL=OFF'],
}

# Every permission the app may have, and why. Anything else fails.
PERMISSIONS = {
    '--share=network': 'downloads from HTTP/FTP mirrors, the tracker and peers (UDP)',
    '--share=ipc': 'X11 shared memory, needed by the fallback-x11 socket',
    '--socket=wayland': 'the window on Wayland',
    '--socket=fallback-x11': 'the window on X11 sessions only (never both sockets)',
    '--device=dri': 'GTK 4 renders with OpenGL/Vulkan',
    '--filesystem=xdg-download': 'the default download folder, written in place with '
                                 '.part files, fdatasync and rename, and reopened to '
                                 'resume after a crash',
}
REQUIRED_PERMISSIONS = {'--share=network', '--socket=wayland', '--socket=fallback-x11'}
# Common requests that are deliberately absent, with the reason shown on failure.
REJECTED = {
    '--talk-name=org.freedesktop.Notifications': 'GNotification uses the notification '
                                                 'portal inside flatpak',
    '--socket=x11': 'use --socket=fallback-x11',
    '--filesystem=home': 'other folders come through the file chooser portal',
    '--filesystem=host': 'other folders come through the file chooser portal',
    '--talk-name=org.freedesktop.NetworkManager': 'GNetworkMonitor (metered) uses the '
                                                  'network monitor portal',
    '--system-talk-name=org.freedesktop.NetworkManager': 'GNetworkMonitor uses the portal',
}

APP_MODULE = 'download-atlas'


def reject_duplicates(pairs):
    counts = collections.Counter(key for key, _ in pairs)
    dups = [key for key, n in counts.items() if n > 1]
    if dups:
        raise ValueError('duplicate keys: %s' % ', '.join(dups))
    return dict(pairs)


def meson_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == '.':
            # Build trees (build, build-*) and VCS data are not the project.
            dirnames[:] = [d for d in dirnames
                           if not (d.startswith('build') or d.startswith('.')
                                   or d == 'subprojects')]
        dirnames.sort()
        if 'meson.build' in filenames:
            yield os.path.join(dirpath, 'meson.build')


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def meson_dependencies(root):
    """{pkg-config name: [version constraints]} from every dependency() call."""
    deps = {}
    call = re.compile(r"(?<![\w.])dependency\(\s*'([^']+)'([^)]*)\)")
    for path in meson_files(root):
        text = re.sub(r'#[^\n]*', '', read(path))
        for name, rest in call.findall(text):
            versions = re.findall(r"'([<>=!]+\s*[\d.]+)'", rest)
            deps.setdefault(name, []).extend(versions)
    return deps


def version_tuple(text):
    return tuple(int(n) for n in re.findall(r'\d+', text))


def satisfies(have, constraint):
    op, want = re.match(r'([<>=!]+)\s*([\d.]+)', constraint).groups()
    h, w = version_tuple(have), version_tuple(want)
    # The runtime's versions are major.minor; compare at that precision.
    w = w[:len(h)]
    return {'>=': h >= w, '>': h > w, '==': h == w, '=': h == w,
            '<=': h <= w, '<': h < w, '!=': h != w}[op]


def check(manifest_path, root):
    problems = []
    try:
        manifest = json.loads(read(manifest_path), object_pairs_hook=reject_duplicates)
    except ValueError as error:
        return ['not valid JSON: %s' % error]

    top = read(os.path.join(root, 'meson.build'))
    m = re.search(r"'APPLICATION_ID',\s*'([^']+)'", top)
    app_id = m.group(1) if m else None
    if manifest.get('app-id') != app_id:
        problems.append('app-id is %r but meson.build says APPLICATION_ID %r'
                        % (manifest.get('app-id'), app_id))

    app_meson = os.path.join(root, 'src', 'app', 'meson.build')
    executables = re.findall(r"executable\(\s*'([^']+)'", read(app_meson)) \
        if os.path.exists(app_meson) else []
    if manifest.get('command') not in executables:
        problems.append('command is %r but src/app/meson.build builds %s'
                        % (manifest.get('command'), executables or 'nothing'))

    for key, want in (('runtime', RUNTIME), ('sdk', SDK), ('runtime-version', RUNTIME_VERSION)):
        if manifest.get(key) != want:
            problems.append('%s is %r, expected %r' % (key, manifest.get(key), want))

    args = manifest.get('finish-args', [])
    for arg in args:
        if arg in REJECTED:
            problems.append('finish-args has %s: not needed, %s' % (arg, REJECTED[arg]))
        elif arg not in PERMISSIONS:
            problems.append('finish-args has %s, which is not justified in '
                            'PERMISSIONS (tests/packaging) and flatpak/README.md' % arg)
    for arg in sorted(REQUIRED_PERMISSIONS - set(args)):
        problems.append('finish-args lacks %s (%s)' % (arg, PERMISSIONS[arg]))
    if len(set(args)) != len(args):
        problems.append('finish-args has duplicates')

    modules = manifest.get('modules', [])
    if not modules or not all(isinstance(mod, dict) for mod in modules):
        return problems + ['modules must be a non-empty list of inline objects']
    names = [mod.get('name') for mod in modules]

    deps = meson_dependencies(root)
    if not deps:
        problems.append('found no dependency() call in the meson files')
    provided_by_modules = {}
    for name in names:
        for pkg in MODULE_PROVIDES.get(name, ()):
            provided_by_modules[pkg] = name

    for pkg, constraints in sorted(deps.items()):
        if pkg in RUNTIME_PROVIDES:
            have = RUNTIME_PROVIDES[pkg]
            for constraint in constraints:
                if have is not None and not satisfies(have, constraint):
                    problems.append('meson wants %s %s but %s//%s has %s: build it as a '
                                    'module or move to a newer runtime'
                                    % (pkg, constraint, RUNTIME, RUNTIME_VERSION, have))
        elif pkg not in provided_by_modules:
            problems.append('meson needs %s, which %s//%s lacks and no module builds'
                            % (pkg, RUNTIME, RUNTIME_VERSION))

    needed_pkgs = set(deps) - set(RUNTIME_PROVIDES)
    for mod in modules[:-1]:
        name = mod.get('name')
        if name == APP_MODULE:
            problems.append('%s must be the last module' % APP_MODULE)
            continue
        if name not in MODULE_PROVIDES:
            problems.append('module %r is unknown: say what it provides in MODULE_PROVIDES'
                            % name)
            continue
        if not (MODULE_PROVIDES[name] & needed_pkgs) and name not in UPCOMING_PEER_MODULES:
            problems.append('module %r builds %s, which meson does not need from outside '
                            'the runtime' % (name, sorted(MODULE_PROVIDES[name])))
        for opt in REQUIRED_CONFIG_OPTS.get(name, []):
            if opt not in mod.get('config-opts', []):
                problems.append('module %s lacks config-opt %s' % (name, opt))
        problems += check_sources(mod, MODULE_VERSIONS.get(name))
    for name in sorted(UPCOMING_PEER_MODULES - set(names)):
        problems.append('module %s (for upcoming peer support) is missing' % name)

    app = modules[-1]
    if app.get('name') != APP_MODULE:
        problems.append('the last module is %r, expected %r' % (app.get('name'), APP_MODULE))
    if app.get('buildsystem') != 'meson':
        problems.append('%s must use the meson buildsystem' % APP_MODULE)
    if '-Dapp=enabled' not in app.get('config-opts', []):
        problems.append('%s must be configured with -Dapp=enabled' % APP_MODULE)
    if app.get('sources') != [{'type': 'dir', 'path': '..'}]:
        problems.append('%s must be built from this tree: sources [{"type": "dir", '
                        '"path": ".."}]' % APP_MODULE)
    return problems


def check_sources(mod, version):
    problems = []
    name = mod.get('name')
    sources = mod.get('sources', [])
    if not sources:
        problems.append('module %s has no sources' % name)
    for src in sources:
        kind = src.get('type')
        url = src.get('url', '')
        if kind in ('archive', 'file'):
            if not url.startswith('https://'):
                problems.append('module %s: %s URL is not https: %r' % (name, kind, url))
            if not re.fullmatch(r'[0-9a-f]{64}', src.get('sha256', '')):
                problems.append('module %s: %s needs a sha256 (64 hex digits)' % (name, kind))
            if version and version not in url:
                problems.append('module %s: URL %s is not version %s' % (name, url, version))
        elif kind == 'git':
            if not url.startswith('https://'):
                problems.append('module %s: git URL is not https: %r' % (name, url))
            if not re.fullmatch(r'[0-9a-f]{40}', src.get('commit', '')):
                problems.append('module %s: git source needs a full commit hash' % name)
            if 'branch' in src:
                problems.append('module %s: pin a tag and commit, not a branch' % name)
            if version and version not in src.get('tag', ''):
                problems.append('module %s: tag %r is not version %s'
                                % (name, src.get('tag'), version))
        elif kind == 'patch':
            pass
        else:
            problems.append('module %s: source type %r is not pinned' % (name, kind))
    return problems


def main():
    manifest_path, root = sys.argv[1:3]
    problems = check(manifest_path, root)
    if problems:
        print('FAIL %s:' % manifest_path)
        for problem in problems:
            print('  - ' + problem)
        return 1
    print('ok %s' % manifest_path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
