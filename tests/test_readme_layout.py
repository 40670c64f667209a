# Copyright (c) mmscrl contributors. All rights reserved.
"""The README's "Project layout" section names every package folder, config
folder and tool folder of the tree, and nothing that does not exist."""
import os
import os.path as osp
import re

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _layout():
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    section = text.split('## Project layout', 1)[1]
    return section.split('```')[1]


def _named_paths(block):
    """(root, path) of each whitespace-delimited ``a/b/`` token (a trailing
    ``:`` allowed, ``x/{a,b}/`` expanded) under the current root line."""
    root, out = None, set()
    plain = re.compile(r'^[a-z0-9_]+(/[a-z0-9_]+)*/$')
    braces = re.compile(r'^([a-z0-9_]+(?:/[a-z0-9_]+)*)/\{([a-z0-9_,]+)\}/$')
    for line in block.splitlines():
        if re.match(r'^[a-z]+/', line):
            root = line.split('/')[0]
            continue
        for token in line.split():
            token = token.rstrip(':')
            if plain.match(token):
                out.add((root, token[:-1]))
            elif braces.match(token):
                head, names = braces.match(token).groups()
                out.update((root, f'{head}/{n}') for n in names.split(','))
    return out


def test_every_named_folder_exists():
    for root, path in _named_paths(_layout()):
        full = osp.join(REPO, root, path)
        if not osp.isdir(full) and root == 'configs':
            full = osp.join(REPO, root, '_base_', path)
        assert osp.isdir(full), f'README layout names {root}/{path}/'


def test_every_folder_is_named():
    named = _named_paths(_layout())
    named_top = {(root, path.split('/')[0]) for root, path in named}
    for root in ('mmscrl', 'tools', 'configs'):
        for name in sorted(os.listdir(osp.join(REPO, root))):
            full = osp.join(REPO, root, name)
            if not osp.isdir(full) or name.startswith(('_', '.')) \
                    and name != '_base_':
                continue
            if root == 'mmscrl' and not osp.isfile(
                    osp.join(full, '__init__.py')):
                continue  # not a package (e.g. an empty leftover folder)
            assert (root, name) in named_top, (
                f'{root}/{name}/ is missing from the README layout')
    # second-level packages of mmscrl/models (algorithms, utils, ...)
    models = osp.join(REPO, 'mmscrl', 'models')
    for name in os.listdir(models):
        if osp.isfile(osp.join(models, name, '__init__.py')):
            assert ('mmscrl', f'models/{name}') in named, name
