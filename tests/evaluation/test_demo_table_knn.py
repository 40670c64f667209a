# Copyright (c) mmscrl contributors. All rights reserved.
"""The box/image kNN columns of tools/demo/run_all_demos.py's table."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch

from mmscrl.demo.generator import generate_demo_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'demo'))

import run_all_demos  # noqa: E402
from demo_workflow import (format_results,  # noqa: E402
                           format_seed_results)


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


# -- multi-seed table (issue 20, item 2) ------------------------------------

def test_format_mean_std():
    from demo_workflow import format_mean_std
    assert format_mean_std(dict(mean=0.4883, std=0.0091, n=9), 100) == \
        '48.8 ± 0.9 (9)'
    assert format_mean_std(dict(mean=31.4, std=None, n=1)) == '31.4 (1)'
    assert format_mean_std(None) == '-'


def _runs():
    """BYOL, SCRL and random init, 2 pre-training seeds x 2 detector runs."""
    ap = dict(byol=[.50, .48, .46, .44], scrl=[.52, .50, .47, .47],
              random=[.40, .42, .41, .39])
    runs = []
    for init, values in ap.items():
        for k, v in enumerate(values):
            seed, j = divmod(k, 2)
            runs.append(dict(init=run_all_demos.LABELS[init], method=init,
                             seed=seed, det_index=j,
                             det_seed=run_all_demos.det_seed(seed, j),
                             bbox_mAP=v, bbox_mAP_50=v + .4,
                             pretrain_seconds=None if init == 'random'
                             else 10., detector_seconds=5.))
    knn = dict(byol=[30., 34.], scrl=[36., 40.], random=[60., 58.])
    backbones = [dict(init=run_all_demos.LABELS[i], method=i, seed=s,
                      box_knn_top1=v[s], image_knn_top1=20.)
                 for i, v in knn.items() for s in (0, 1)]
    return runs, backbones


def test_aggregate_and_agreement():
    runs, backbones = _runs()
    runs[5]['error'] = 'RuntimeError: NaN'  # scrl, seed 0, detector run 1
    for key in ('bbox_mAP', 'bbox_mAP_50'):
        runs[5].pop(key)
    columns = run_all_demos.monitor_columns(['c5'])
    assert columns == [('box_knn_top1', 'box kNN'),
                       ('image_knn_top1', 'image kNN')]
    inits = ['byol', 'scrl', 'random']
    rows = run_all_demos.aggregate(inits, runs, backbones, columns)
    byol, scrl, rand = rows
    assert byol['stats']['bbox_mAP']['n'] == 4
    assert byol['bbox_mAP'] == pytest.approx(0.47)
    assert byol['stats']['bbox_mAP']['std'] == pytest.approx(
        np.std([.50, .48, .46, .44], ddof=1))
    assert scrl['stats']['bbox_mAP']['values'] == [.52, .47, .47]
    assert scrl['errors'] == ['seed 0, detector seed 1000: '
                              'RuntimeError: NaN']
    assert scrl['baseline'] == 'BYOL' and byol['baseline'] == 'random init'
    assert rand['baseline'] is None and rand['delta_bbox_mAP'] is None
    assert scrl['delta_bbox_mAP'] == pytest.approx(np.mean(
        [.52, .47, .47]) - 0.47)
    assert byol['stats']['box_knn_top1'] == dict(
        mean=32., std=pytest.approx(np.std([30, 34], ddof=1)), n=2,
        values=[30., 34.])
    assert rand['pretrain_seconds'] is None and scrl['pretrain_seconds'] == 10
    agree = run_all_demos.monitor_agreement(inits, runs, backbones, columns)
    # pairs (init, seed): mean AP byol .49/.45, scrl .52/.47, random .41/.40
    ap = [.49, .45, .52, .47, .41, .40]
    box = [30., 34., 36., 40., 60., 58.]
    # ranks ap [5, 3, 6, 4, 2, 1], box [1, 2, 3, 4, 6, 5]: sum d^2 = 58
    assert agree[0]['rho'] == pytest.approx(1 - 6 * 58 / (6 * 35))
    assert len(ap) == len(box) == 6
    assert agree[0]['pairs'] == 6 and agree[0]['note'] is None
    assert agree[1]['rho'] is None
    assert agree[1]['note'] == 'constant monitor values'
    # within each seed: box [30, 36, 60] vs AP [.49, .52, .41] (seed 0),
    # [34, 40, 58] vs [.45, .47, .40] (seed 1): ranks [1, 2, 3] vs
    # [2, 3, 1], sum d^2 = 6, rho = 1 - 36 / 24
    assert agree[0]['per_seed'] == {
        0: dict(rho=pytest.approx(-0.5), pairs=3, note=None),
        1: dict(rho=pytest.approx(-0.5), pairs=3, note=None)}
    # init means: box 32 / 38 / 59 vs AP .47 / .495 / .405
    assert agree[0]['init_means'] == dict(rho=pytest.approx(-0.5), pairs=3,
                                          note=None)
    assert agree[1]['per_seed'][0]['note'] == 'constant monitor values'
    assert agree[1]['init_means']['rho'] is None
    table = format_seed_results(rows, columns, agree)
    lines = table.splitlines()
    assert lines[0] == ('| init | bbox AP | Δ AP vs baseline | AP50 | '
                        'box kNN | image kNN | pre-train (s) | detector '
                        '(s) |')
    assert lines[2] == ('| BYOL | 47.0 ± 2.6 (4) | +6.5 vs random init | '
                        '87.0 ± 2.6 (4) | 32.0 ± 2.8 (2) | 20.0 ± 0.0 (2) '
                        '| 10 | 5 |')
    assert lines[3].startswith('| SCRL | 48.7 ± 2.9 (3) | +1.7 vs BYOL |')
    assert lines[4].startswith('| random init | 40.5 ± 1.3 (4) | - |')
    assert 'SCRL: failed run (left out of the mean): seed 0' in table
    assert ('| monitor | all pairs | seed 0 | seed 1 | init means |'
            in table)
    assert (f'| box kNN | {agree[0]["rho"]:+.2f} (6) | -0.50 (3) | '
            '-0.50 (3) | -0.50 (3) |') in table
    assert ('| image kNN | n/a (constant monitor values) (6) | n/a '
            '(constant monitor values) (3) |') in table
    # one seed: the short table, no per-seed or init-means columns
    one = run_all_demos.monitor_agreement(
        inits, runs, [b for b in backbones if b['seed'] == 0], columns)
    assert one[0]['init_means'] is None and list(one[0]['per_seed']) == [0]
    assert one[0]['rho'] == pytest.approx(-0.5)
    table = format_seed_results(rows, columns, one)
    assert '| box kNN | -0.50 | 3 |' in table and 'init means' not in table


def test_aggregate_failed_init_and_other_monitors():
    runs = [dict(init='PixPro', method='pixpro', seed=0, det_index=0,
                 det_seed=0, error='FileNotFoundError: x')]
    columns = run_all_demos.monitor_columns(['c4-256', 'probe-c4'])
    assert columns == [('box_knn_top1:c4-256', 'box kNN c4-256'),
                       ('image_knn_top1:c4-256', 'image kNN c4-256'),
                       ('box_probe_top1:probe-c4', 'box probe c4')]
    rows = run_all_demos.aggregate(['pixpro'], runs, [], columns)
    assert rows[0]['error'] == 'seed 0, detector seed 0: FileNotFoundError: x'
    table = format_seed_results(rows, columns)
    assert table.splitlines()[2] == ('| PixPro | n/a | n/a | n/a | n/a | n/a '
                                     '| n/a | - | - |')
    assert 'PixPro: not available' in table and 'Spearman' not in table
    agree = run_all_demos.monitor_agreement(['pixpro'], runs, [], columns)
    assert [a['note'] for a in agree] == ['fewer than 2 pairs'] * 3


def test_add_box_knn_monitor_columns(tmp_path):
    paths = generate_demo_dataset(str(tmp_path / 'demo'), num_unlabeled=0,
                                  num_train=4, num_val=2, img_size=64)
    rows = [dict(init='random init'), dict(init='random init')]
    cache = {}
    run_all_demos.add_box_knn(rows[:1], [('random', None)], paths, seed=0,
                              monitors=['c5-64', 'probe-c4-64'], cache=cache)
    assert sorted(cache) == [64]
    assert set(rows[0]) == {'init', 'box_knn_top1:c5-64',
                            'image_knn_top1:c5-64',
                            'box_probe_top1:probe-c4-64'}
    for key in set(rows[0]) - {'init'}:
        assert 0. <= rows[0][key] <= 100.
    # another seed, another random backbone; the sets come from the cache
    cache[64] = (cache[64][0], dict(cache[64][1], num_classes=99))
    run_all_demos.add_box_knn(rows[1:], [('random', None)], paths, seed=1,
                              monitors=['c5-64'], cache=cache)
    assert rows[1] == dict(init='random init')  # 99 val classes: refused


@pytest.mark.parametrize('argv,match', [
    (['--seeds', '0', '1', '--seed', '2'], 'not allowed with'),
    (['--seeds', '0', '1000', '--det-seeds', '2'], 'repeated detector'),
    (['--det-seeds', '0'], '--det-seeds must be >= 1'),
    (['--monitors', 'c9'], '--monitors: monitor'),
])
def test_run_all_demos_bad_args(argv, match, capsys):
    with pytest.raises(SystemExit):
        run_all_demos.parse_args(argv)
    assert match in capsys.readouterr().err


def test_run_all_demos_seed_args_and_names():
    args = run_all_demos.parse_args(['--seed', '3'])
    assert args.seeds == [3] and args.data_seed == 3
    args = run_all_demos.parse_args(['--seeds', '2', '0', '2',
                                     '--det-seeds', '3'])
    assert args.seeds == [2, 0] and args.data_seed == 2
    assert [m.name for m in args.monitors] == ['c5']
    assert run_all_demos.det_seed(2, 1) == 1002
    assert run_all_demos.pretrain_dir('scrl', 0) == 'pretrain_scrl'
    assert run_all_demos.pretrain_dir('scrl', 2) == 'pretrain_scrl_s2'
    assert run_all_demos.detector_dir('random', 0, 0) == 'det_random'
    assert run_all_demos.detector_dir('scrl', 0, 1) == 'det_scrl_s0_d1'
    assert run_all_demos.stage2_dir(1) == 'orl_stage2_s1'
