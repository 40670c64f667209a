# Copyright (c) mmscrl contributors. All rights reserved.
import json

import cv2
import pytest

from mmscrl.visualization.curves import (curve_keys, find_scalar_file,
                                         load_scalars, plot_curves)


def _write_run(root, name, n=12, scale=1.0):
    vis = root / name / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    with open(vis / 'scalars.json', 'w') as f:
        for i in range(1, n + 1):
            f.write(json.dumps(dict(lr=0.1 * i / n, loss=scale * 4 / i,
                                    loss_box=scale * 4 / i,
                                    momentum=0.99 + 0.01 * i / n,
                                    time=0.5, data_time=0.1, iter=i,
                                    step=i)) + '\n')
        f.write(json.dumps({'coco/bbox_mAP': 0.1, 'step': 0}) + '\n')
    return root / name


def test_load_scalars(tmp_path):
    run = _write_run(tmp_path, 'a')
    assert find_scalar_file(str(run)).endswith('vis_data/scalars.json')
    recs = load_scalars(str(run))
    assert len(recs) == 13
    val = [r for r in recs if r['is_val']]
    assert len(val) == 1 and val[0]['x'] == 12  # placed at the last iter
    assert curve_keys({'a': recs})[:2] == ['loss', 'loss_box']
    assert 'time' not in curve_keys({'a': recs})


def test_load_legacy_log_json(tmp_path):
    path = tmp_path / 'x.log.json'
    path.write_text('{"env_info": "..."}\n' + ''.join(
        json.dumps(dict(mode='train', epoch=1, iter=i, lr=0.1, loss=1. / i))
        + '\n' for i in range(1, 5)))
    recs = load_scalars(str(path))
    assert [r['x'] for r in recs] == [1, 2, 3, 4]


@pytest.mark.parametrize('keys,ncols,shape', [
    (['loss', 'lr', 'momentum'], 3, (300, 1200)),
    (['loss', 'lr', 'momentum', 'coco/bbox_mAP'], 2, (600, 800)),
    (None, 3, (600, 1200)),  # loss, loss_box, lr, momentum, coco/bbox_mAP
])
def test_plot_curves_png(tmp_path, keys, ncols, shape):
    runs = {
        'a': load_scalars(str(_write_run(tmp_path, 'a'))),
        'b': load_scalars(str(_write_run(tmp_path, 'b', scale=2.))),
    }
    out = plot_curves(runs, str(tmp_path / 'out' / 'c.png'), keys=keys,
                      ncols=ncols, dpi=100, smooth=2)
    img = cv2.imread(out)
    assert img is not None and img.shape[:2] == shape
    assert img.std() > 5  # something was drawn


def test_plot_curves_errors(tmp_path):
    runs = {'a': load_scalars(str(_write_run(tmp_path, 'a')))}
    with pytest.raises(KeyError, match='nope'):
        plot_curves(runs, str(tmp_path / 'x.png'), keys=['nope'])
    with pytest.raises(FileNotFoundError):
        load_scalars(str(tmp_path / 'missing'))


def test_cli(tmp_path, load_tool):
    main = load_tool('visualization/plot_curves.py').main
    run = _write_run(tmp_path, 'a')
    out = tmp_path / 'cli.png'
    main([str(run), '--out', str(out), '--keys', 'loss', 'lr'])
    assert cv2.imread(str(out)).shape[:2] == (300, 800)
