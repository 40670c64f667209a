# Copyright (c) mmscrl contributors. All rights reserved.
"""The box/image kNN columns of tools/demo/run_all_demos.py's table."""
import os.path as osp
import sys

import torch

from mmscrl.demo.generator import generate_demo_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'demo'))

import run_all_demos  # noqa: E402
from demo_workflow import format_results  # noqa: E402


def test_format_results_with_and_without_knn():
    row = dict(init='SCRL', bbox_mAP=0.5, bbox_mAP_50=0.9,
               pretrain_seconds=10., detector_seconds=20.)
    plain = format_results([row])
    assert 'kNN' not in plain
    table = format_results([
        dict(row, box_knn_top1=61.25, image_knn_top1=40.0),
        dict(init='ORL', error='boom'),
        dict(row, init='random init', pretrain_seconds=None),
    ])
    lines = table.splitlines()
    assert lines[0] == ('| init | bbox AP | AP50 | box kNN | image kNN | '
                        'pre-train (s) | detector (s) |')
    assert lines[2] == '| SCRL | 50.0 | 90.0 | 61.2 | 40.0 | 10 | 20 |'
    assert lines[3] == '| ORL | n/a | n/a | n/a | n/a | - | - |'
    assert lines[4] == '| random init | 50.0 | 90.0 | - | - | - | 20 |'
    assert all(line.count('|') == 8 for line in lines[:5])


def test_add_box_knn_rows(tmp_path):
    from mmpretrain.models import ResNet
    paths = generate_demo_dataset(str(tmp_path / 'demo'), num_unlabeled=0,
                                  num_train=4, num_val=2, img_size=64)
    torch.manual_seed(0)
    state = {f'backbone.{k}': v
             for k, v in ResNet(depth=18).state_dict().items()}
    ckpt = str(tmp_path / 'iter_1.pth')
    torch.save(dict(state_dict=state), ckpt)
    rows = [dict(init='SCRL'), dict(init='ORL', error='x'),
            dict(init='random init')]
    runs = [('scrl', ckpt), ('orl', None), ('random', None)]
    run_all_demos.add_box_knn(rows, runs, paths, seed=0)
    for i in (0, 2):
        for key in ('box_knn_top1', 'image_knn_top1'):
            assert 0. <= rows[i][key] <= 100.
    assert 'box_knn_top1' not in rows[1]


def test_add_box_knn_failure_keeps_rows(tmp_path, capsys):
    rows = [dict(init='SCRL')]
    paths = dict(ann_train=str(tmp_path / 'none.json'), train='',
                 ann_val='', val='')
    run_all_demos.add_box_knn(rows, [('scrl', 'x.pth')], paths, seed=0)
    assert rows == [dict(init='SCRL')]
    assert 'box/image kNN failed' in capsys.readouterr().out
