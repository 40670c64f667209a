# Copyright (c) mmscrl contributors. All rights reserved.
"""Every user-facing tool of this area documents every argument."""
import os.path as osp
import re
import runpy
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = [
    'tools/analysis_tools/browse_dataset.py',
    'tools/analysis_tools/get_flops.py',
    'tools/analysis_tools/print_config.py',
    'tools/test.py',
    'tools/model_converters/publish_model.py',
    'tools/visualization/plot_curves.py',
    'tools/visualization/vis_densecl_correspondence.py',
    'tools/visualization/vis_orl_pairs.py',
    'tools/visualization/vis_scrl_boxes.py',
    'tools/benchmarks/mmdetection/train.py',
    'tools/analysis_tools/box_knn_eval.py',
    'tools/benchmarks/classification/knn_eval.py',
    'tools/benchmarks/orl_stage2_scale.py',
    'tools/benchmarks/run.py',
    'tools/demo/generate_demo_data.py',
    'tools/demo/run_all_demos.py',
    'tools/demo/run_demo.py',
    'tools/model_converters/extract_backbone.py',
    'tools/orl/convert_official.py',
    'tools/orl/extract_knn.py',
    'tools/orl/generate_correspondence.py',
    'tools/orl/selective_search.py',
    'tools/train.py',
]


def _help(tool, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [tool, '--help'])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(osp.join(REPO, tool), run_name='__main__')
    assert exc.value.code == 0
    return capsys.readouterr().out


def _entries(text):
    """(flags, help) of each argument in the argparse help sections."""
    # the sections start at the first built-in group (a raw description
    # may hold lines that look like a section)
    start = re.search(r'^(positional arguments|options|optional arguments):$',
                      text, re.M)
    text = text[start.start() - 1:] if start else text
    entries = []
    for section in re.split(r'\n(?=\S[^\n]*:\n)', text):
        head, _, body = section.partition('\n')
        if not head.rstrip().endswith(':') or 'usage' in head:
            continue
        for line in body.splitlines():
            m = re.match(r'^  (\S.*?)(?:\s{2,}(\S.*))?$', line)
            if m:
                entries.append([m.group(1), m.group(2) or ''])
            elif line.startswith(' ' * 6) and entries:
                entries[-1][1] += line.strip()
    return entries


@pytest.mark.parametrize('tool', TOOLS)
def test_every_argument_has_help(tool, monkeypatch, capsys):
    text = _help(tool, monkeypatch, capsys)
    first = text.split('\n\n')[1] if '\n\n' in text else ''
    assert first.strip(), f'{tool}: no description'
    entries = _entries(text)
    assert entries, text
    undocumented = [f for f, h in entries
                    if not h.strip() and not f.startswith('-h')]
    assert not undocumented, f'{tool}: no help for {undocumented}'
    # defaults are shown, except unset ones (mmscrl.utils.cli.make_parser)
    assert '(default: None)' not in text and '(default: False)' not in text
