#!/usr/bin/env python3
"""Check the D-Bus service, the GSettings schema's ID and the app icons.

Usage: check-data-files.py SOURCE_ROOT SERVICE_FILE APP_ID BINDIR EXECUTABLE

- The D-Bus service is named after the application ID and starts the app
  with --gapplication-service from its installed path, or D-Bus activation
  (DBusActivatable=true in the desktop entry) starts nothing.
- The schema's id is the application ID and its path is derived from it, as
  the app's g_settings_new (APPLICATION_ID) expects.
- Both icons exist under the names the desktop entry and GTK look up; the
  full-colour one is a square SVG, the symbolic one a 16x16 SVG of filled
  shapes in one colour (GTK recolours symbolic icons by replacing fills, so a
  stroke or a second colour would render wrong).
"""

import configparser
import os
import re
import sys
import xml.etree.ElementTree as ET

SVG = '{http://www.w3.org/2000/svg}'


def main():
    root, service, app_id, bindir, executable = sys.argv[1:6]
    problems = []

    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(service, encoding='utf-8')
    if not parser.has_section('D-BUS Service'):
        problems.append('%s has no [D-BUS Service] group' % service)
    else:
        entry = parser['D-BUS Service']
        if entry.get('Name') != app_id:
            problems.append('service Name is %r, expected %r' % (entry.get('Name'), app_id))
        want = os.path.join(bindir, executable) + ' --gapplication-service'
        if entry.get('Exec') != want:
            problems.append('service Exec is %r, expected %r' % (entry.get('Exec'), want))
    if os.path.basename(service) != app_id + '.service':
        problems.append('service file must be named %s.service' % app_id)

    schema_path = os.path.join(root, 'data', app_id + '.gschema.xml')
    try:
        schemas = ET.parse(schema_path).getroot().findall('schema')
        ids = {s.get('id'): s.get('path') for s in schemas}
        want_path = '/' + app_id.replace('.', '/') + '/'
        if ids.get(app_id) != want_path:
            problems.append('schema %s with path %s not found in %s (found %s)'
                            % (app_id, want_path, schema_path, ids))
    except (OSError, ET.ParseError) as error:
        problems.append('schema: %s' % error)

    icons = os.path.join(root, 'data', 'icons', 'hicolor')
    scalable = os.path.join(icons, 'scalable', 'apps', app_id + '.svg')
    symbolic = os.path.join(icons, 'symbolic', 'apps', app_id + '-symbolic.svg')
    for path, symbolic_icon in ((scalable, False), (symbolic, True)):
        try:
            svg = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as error:
            problems.append('icon %s: %s' % (path, error))
            continue
        if svg.tag != SVG + 'svg':
            problems.append('icon %s is not an SVG document' % path)
            continue
        box = [float(n) for n in svg.get('viewBox', '').split()] or [0, 0, 0, 0]
        if len(box) != 4 or box[2] != box[3] or box[2] <= 0:
            problems.append('icon %s: viewBox %r is not square' % (path, svg.get('viewBox')))
        if symbolic_icon:
            if box[2:] != [16.0, 16.0] or svg.get('width') != '16' or svg.get('height') != '16':
                problems.append('symbolic icon must be 16x16')
            colours = set()
            for node in svg.iter():
                style = dict(re.findall(r'([\w-]+)\s*:\s*([^;]+)', node.get('style', '')))
                stroke = (node.get('stroke') or style.get('stroke') or 'none').strip()
                if stroke != 'none':
                    problems.append('symbolic icon uses stroke on <%s>'
                                    % node.tag.replace(SVG, ''))
                fill = node.get('fill') or style.get('fill')
                if fill and fill != 'none':
                    colours.add(fill.lower())
                if node.tag in (SVG + 'image', SVG + 'linearGradient', SVG + 'radialGradient'):
                    problems.append('symbolic icon contains <%s>' % node.tag.replace(SVG, ''))
            if len(colours) > 1:
                problems.append('symbolic icon has several colours: %s' % sorted(colours))

    if problems:
        print('FAIL data files:')
        for problem in problems:
            print('  - ' + problem)
        return 1
    print('ok: service, schema id, icons')
    return 0


if __name__ == '__main__':
    sys.exit(main())
