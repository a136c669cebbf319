#!/usr/bin/env python3
"""Validate the generated AppStream metainfo of download-atlas.

Usage: check-metainfo.py METAINFO_FILE APP_ID PROJECT_VERSION

`appstreamcli validate --no-net` must report no error and no warning (info
and pedantic hints are allowed). Then checks that tie the metainfo to the
rest of the project: the component ID is the application ID, it launches the
desktop entry of that name, and the newest release is the version meson
builds, so a version bump without release notes fails here.
"""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET


def version_key(version):
    return [int(part) for part in re.findall(r'\d+', version)]


def main():
    path, app_id, project_version = sys.argv[1:4]
    problems = []

    proc = subprocess.run(['appstreamcli', 'validate', '--no-net', '--no-color', path],
                          capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    # Lines look like "E: org.example.App:12: tag-name details".
    issues = [line for line in output.splitlines() if re.match(r'^[EW]: ', line)]
    if proc.returncode != 0 or issues:
        problems.append('appstreamcli validate --no-net (exit %d):\n%s'
                        % (proc.returncode, output.strip()))

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        problems.append('not well-formed XML: %s' % error)
        root = ET.Element('component')

    def text(xpath):
        node = root.find(xpath)
        return node.text.strip() if node is not None and node.text else None

    if text('id') != app_id:
        problems.append('<id> is %r, expected %r' % (text('id'), app_id))
    if text("launchable[@type='desktop-id']") != app_id + '.desktop':
        problems.append('<launchable type="desktop-id"> is %r, expected %r'
                        % (text("launchable[@type='desktop-id']"), app_id + '.desktop'))
    if text('project_license') != 'GPL-3.0-or-later':
        problems.append('<project_license> is %r' % text('project_license'))
    if text('metadata_license') != 'CC0-1.0':
        problems.append('<metadata_license> is %r' % text('metadata_license'))
    if text("translation[@type='gettext']") != 'download-atlas':
        problems.append('<translation type="gettext"> is not download-atlas')
    rating = root.find('content_rating')
    if rating is None or rating.get('type') != 'oars-1.1':
        problems.append('<content_rating type="oars-1.1"> is missing')

    for image in root.findall('screenshots/screenshot/image'):
        if not (image.text or '').startswith('https://'):
            problems.append('screenshot %r is not an absolute https URL' % image.text)

    releases = root.findall('releases/release')
    if not releases:
        problems.append('no <release>')
    else:
        newest = max(releases, key=lambda r: version_key(r.get('version', '0')))
        if releases[0] is not newest:
            problems.append('releases are not listed newest first')
        if newest.get('version') != project_version:
            problems.append('newest release is %s but meson builds %s: add release '
                            'notes for %s' % (newest.get('version'), project_version,
                                              project_version))
        if not newest.findall('description/ul/li') and not newest.findall('description/p'):
            problems.append('release %s has no release notes' % newest.get('version'))

    if problems:
        print('FAIL %s:' % path)
        for problem in problems:
            print('  - ' + problem)
        return 1
    print('ok %s' % path)
    print(output.strip())
    return 0


if __name__ == '__main__':
    sys.exit(main())
