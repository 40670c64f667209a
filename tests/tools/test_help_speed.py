# Copyright (c) mmscrl contributors. All rights reserved.
"""Every Python tool answers ``--help`` without importing torch or the
OpenMMLab model stack (issue 22, item 4: ``--help`` took 3.7-4.9 s).

No wall-clock timing: each tool runs as a user runs it (``python TOOL
--help`` from a folder outside the repository) under ``python -X
importtime``, whose report lists every module the process imported. A tool
builds its parser first and imports its heavy modules inside ``main()``
(see :mod:`mmscrl.utils.cli`).
"""
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: every script under tools/ that runs as a program
TOOLS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True)
    if "if __name__ == '__main__':" in open(p, encoding='utf-8').read())
#: what ``--help`` must not import (each costs seconds)
HEAVY = ('torch', 'torchvision', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg',
         'matplotlib', 'scipy')


def _imported(importtime_report: str) -> set:
    """Module names of a ``python -X importtime`` report (stderr)."""
    names = set()
    for line in importtime_report.splitlines():
        m = re.match(r'^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$', line)
        if m:
            names.add(m.group(1))
    return names


def test_tools_are_found():
    assert len(TOOLS) >= 20 and 'tools/train.py' in TOOLS


@pytest.mark.parametrize('tool', TOOLS)
def test_help_imports_nothing_heavy(tool, tmp_path):
    out = subprocess.run(
        [sys.executable, '-X', 'importtime',
         osp.join(REPO, tool), '--help'],
        cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith('usage:'), out.stdout[:500]
    imported = _imported(out.stderr)
    assert 'mmscrl' in imported  # the report was parsed
    heavy = sorted(
        m for m in imported if m.split('.')[0] in HEAVY)
    assert not heavy, f'{tool} --help imports {heavy[:10]}'
