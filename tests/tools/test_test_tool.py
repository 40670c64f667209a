# Copyright (c) mmscrl contributors. All rights reserved.
"""tools/test.py: evaluate a detector checkpoint with a transfer config."""
import importlib.util
import json
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs', 'demo',
               'faster-rcnn_r18_fpn_1xb8-300i_demo.py')
_spec = importlib.util.spec_from_file_location(
    '_mmscrl_tools_test', osp.join(REPO, 'tools', 'test.py'))
test_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(test_tool)
CLASSES = ('disk', 'square', 'triangle', 'star', 'cross')


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    """3 images of 96 px with one square each, COCO json."""
    root = tmp_path_factory.mktemp('coco')
    (root / 'val').mkdir()
    (root / 'annotations').mkdir()
    images, anns = [], []
    rng = np.random.default_rng(0)
    for i in range(3):
        img = rng.integers(0, 50, (96, 96, 3), dtype=np.uint8)
        x, y = 10 + 8 * i, 20
        cv2.rectangle(img, (x, y), (x + 40, y + 40), (200, 200, 200), -1)
        cv2.imwrite(str(root / 'val' / f'{i}.jpg'), img)
        images.append(dict(id=i + 1, file_name=f'{i}.jpg', width=96,
                           height=96))
        anns.append(dict(id=i + 1, image_id=i + 1, category_id=2,
                         bbox=[x, y, 40, 40], area=1600, iscrowd=0))
    (root / 'annotations' / 'instances_val.json').write_text(
        json.dumps(dict(info={}, licenses=[], images=images,
                        annotations=anns, categories=[
            dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)])))
    return root


def test_evaluates_a_detector_checkpoint(tiny_coco, tmp_path):
    from mmscrl.apis import get_model
    det = get_model(CFG)
    ckpt = tmp_path / 'det.pth'
    torch.save(dict(state_dict=det.state_dict(), meta=dict(iter=300)), ckpt)
    out = tmp_path / 'preds.pkl'
    metrics = test_tool.main([
        CFG, str(ckpt), '--work-dir', str(tmp_path / 'work'), '--out',
        str(out), '--cfg-options', f'test_dataloader.dataset.data_root='
        f'{tiny_coco}/', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'test_dataloader.batch_size=3', 'test_evaluator.ann_file='
        f'{tiny_coco}/annotations/instances_val.json'
    ])
    assert 'coco/bbox_mAP' in metrics
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    preds = pickle.load(open(out, 'rb'))
    assert len(preds) == 3 and 'pred_instances' in preds[0]


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        test_tool.main([CFG, str(tmp_path / 'missing.pth')])
    (tmp_path / 'c.pth').write_bytes(b'')
    args = test_tool.parse_args(
        [CFG, str(tmp_path / 'c.pth'), '--out', str(tmp_path / 'x.json')])
    with pytest.raises(ValueError, match='.pkl'):
        test_tool.build_test_config(args)
    args = test_tool.parse_args([
        CFG, str(tmp_path / 'c.pth'), '--cfg-options', 'test_evaluator=None'
    ])
    with pytest.raises(KeyError, match='test_evaluator'):
        test_tool.build_test_config(args)


def test_truncated_checkpoint_is_named_before_the_runner(
        tmp_path, monkeypatch):
    """Issue 21 item 18: torch's zip error named no file."""
    import mmengine.runner

    def no_runner(cfg):
        raise AssertionError('the Runner was built for a bad checkpoint')

    monkeypatch.setattr(mmengine.runner.Runner, 'from_cfg', no_runner)
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict={'w': torch.ones(64)}), good)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(good.read_bytes()[:300])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    for path, size in ((cut, 300), (empty, 0)):
        with pytest.raises(ValueError,
                           match=f'{path}.*{size} bytes.*truncated'):
            test_tool.main([CFG, str(path)])
    with pytest.raises(AssertionError, match='Runner was built'):
        test_tool.main([CFG, str(good)])  # a complete file gets through


def test_cfg_options_num_workers_zero(tmp_path):
    """Issue 21 item 19 for tools/test.py: the config's
    persistent_workers=True must not survive num_workers=0."""
    args = test_tool.parse_args([
        CFG, str(tmp_path / 'c.pth'), '--cfg-options',
        'test_dataloader.num_workers=0'
    ])
    cfg = test_tool.build_test_config(args)
    assert cfg.test_dataloader.num_workers == 0
    assert cfg.test_dataloader.persistent_workers is False
