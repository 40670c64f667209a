# Copyright (c) mmscrl contributors. All rights reserved.
"""The demo job: building blocks, and the README's first command end to end
in its smallest setting (tiny data, 4 iterations per stage)."""
import importlib.util
import json
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config

sys.path.insert(
    0,
    osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        'tools', 'demo'))
from demo_workflow import (detector_config, format_results,  # noqa: E402
                           read_last_metrics, scale_iter_schedule,
                           set_data_root)

DET_CFG = 'configs/demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py'
SCRL_CFG = 'configs/demo/scrl_resnet18_1xb32-coslr-500i_demo.py'
DEMO_CFGS = [
    SCRL_CFG,
    'configs/demo/byol_resnet18_1xb32-coslr-500i_demo.py',
    'configs/demo/densecl_resnet18_1xb32-coslr-500i_demo.py',
    'configs/demo/orl_resnet18_1xb32-coslr-500i_demo.py',
    'configs/demo/mocov2_resnet18_1xb32-coslr-500i_demo.py',
]


def _load_tool(repo_root, name):
    spec = importlib.util.spec_from_file_location(
        f'demo_{name}', osp.join(repo_root, 'tools', 'demo', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('cfg', DEMO_CFGS)
def test_scale_iter_schedule(repo_root, cfg):
    cfg = Config.fromfile(osp.join(repo_root, cfg))
    old = cfg.train_cfg.max_iters
    scale_iter_schedule(cfg, old // 10)
    assert cfg.train_cfg.max_iters == old // 10
    last = cfg.param_scheduler[-1]
    assert last['end'] == old // 10
    if 'T_max' in last:
        assert last['T_max'] == last['end'] - last['begin']
    for hook in cfg.get('custom_hooks', []):
        if 'start_iters' in hook:
            assert hook['start_iters'] <= old // 10
    with pytest.raises(ValueError):
        scale_iter_schedule(cfg, 0)


def test_set_data_root(repo_root, tmp_path):
    cfg = Config.fromfile(osp.join(repo_root, DET_CFG))
    set_data_root(cfg, str(tmp_path))
    root = osp.join(str(tmp_path), '')
    for name in ('train_dataloader', 'val_dataloader'):
        assert cfg[name].dataset.data_root == root
    assert cfg.val_evaluator.ann_file == root + \
        'annotations/instances_val.json'


def test_pretrained_backbone_is_loaded(repo_root, tmp_path):
    """The detector's backbone gets the SSL model's online backbone."""
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ResNet

    import mmscrl  # noqa: F401
    ssl_backbone = ResNet(depth=18, out_indices=(3, ))
    state = {f'backbone.{k}': v for k, v in
             ssl_backbone.state_dict().items()}
    state.update({f'target_net.module.backbone.{k}': torch.zeros_like(v)
                  for k, v in ssl_backbone.state_dict().items()})
    ckpt = str(tmp_path / 'ssl.pth')
    torch.save(dict(state_dict=state), ckpt)
    results = {}
    for init in (ckpt, None):
        cfg = detector_config(osp.join(repo_root, DET_CFG), str(tmp_path),
                              None, init)
        with DefaultScope.overwrite_default_scope('mmdet'):
            det = MODELS.build(cfg.model)
        det.init_weights()
        results[init] = det.backbone.state_dict()
    loaded = results[ckpt]
    ref = ssl_backbone.state_dict()
    assert set(ref) <= set(loaded)
    for k, v in ref.items():
        assert torch.equal(loaded[k], v), k
    assert not torch.equal(results[None]['conv1.weight'],
                           ref['conv1.weight'])


def test_read_metrics_and_table(tmp_path):
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        json.dumps(dict(loss=1., iter=1, step=1)) + '\n' + json.dumps({
            'coco/bbox_mAP': 0.25, 'coco/bbox_mAP_50': 0.5, 'step': 0}) +
        '\n')
    rec = read_last_metrics(str(tmp_path))
    assert rec['coco/bbox_mAP'] == 0.25
    with pytest.raises(FileNotFoundError):
        read_last_metrics(str(tmp_path / 'none'))
    table = format_results([
        dict(init='SCRL', bbox_mAP=0.25, bbox_mAP_50=0.5,
             pretrain_seconds=10., detector_seconds=5.),
        dict(init='ORL', error='stage 2 missing'),
    ])
    assert '| SCRL | 25.0 | 50.0 | 10 | 5 |' in table
    assert '| ORL | n/a | n/a |' in table and 'stage 2 missing' in table


def test_run_demo_smallest_end_to_end(repo_root, tmp_path, capsys):
    """README's first command in CI size: data -> SCRL -> 2 detectors."""
    run_demo = _load_tool(repo_root, 'run_demo')
    argv = ['--smallest', '--data-root', str(tmp_path / 'data'),
            '--work-dir', str(tmp_path / 'wd')]
    out = run_demo.main(argv + ['--jobs', '2'])  # the detectors side by side
    rows = out['rows']
    assert [r['init'] for r in rows] == ['SCRL', 'random init']
    for r in rows:
        assert 0. <= r['bbox_mAP'] <= 1. and 0. <= r['bbox_mAP_50'] <= 1.
    with open(tmp_path / 'wd' / 'results.json') as f:
        saved = json.load(f)
    assert saved['rows'][0]['bbox_mAP'] == rows[0]['bbox_mAP']
    # the EMA momentum is logged for the curves
    from mmscrl.visualization.curves import load_scalars
    recs = load_scalars(str(tmp_path / 'wd' / 'pretrain'))
    assert any('ema_momentum' in r for r in recs)
    md = (tmp_path / 'wd' / 'results.md').read_text()
    assert '| init | bbox AP | AP50 |' in md and '| SCRL |' in md
    assert saved['meta']['detector_jobs'] == 2
    assert 'the 2 detectors trained at the same time' in md
    # every stage is reused by a rerun with the same settings (one detector
    # at a time changes no result: nothing is retrained)
    capsys.readouterr()
    again = run_demo.main(argv + ['--jobs', '1'])
    log = capsys.readouterr().out
    assert log.count('reusing finished run') == 3
    assert '[demo 4/4 |' in log  # one banner per detector
    md = (tmp_path / 'wd' / 'results.md').read_text()
    assert 'trained at the same time' not in md
    assert [r['bbox_mAP'] for r in again['rows']] == \
        [r['bbox_mAP'] for r in rows]
    # every file the job wrote is recorded as its own (--force may delete
    # it), and a file of the user's in a stage is not (issue 21, item 6)
    from demo_workflow import remove_demo_work_dir, work_dir_folder
    assert work_dir_folder(str(tmp_path / 'wd')).foreign() == []
    (tmp_path / 'wd' / 'det_pretrained' / 'my_notes.txt').write_text('x')
    with pytest.raises(FileExistsError, match='my_notes.txt'):
        run_demo.main(argv + ['--force'])
    assert (tmp_path / 'wd' / 'det_pretrained' / 'my_notes.txt').is_file()
    assert (tmp_path / 'wd' / 'results.md').is_file()  # nothing deleted
    (tmp_path / 'wd' / 'det_pretrained' / 'my_notes.txt').unlink()
    remove_demo_work_dir(str(tmp_path / 'wd'))
    assert not any((tmp_path / 'wd').iterdir())


def test_run_all_demos_orl_pixpro_smallest(repo_root, tmp_path):
    """ORL's three stages (BYOL -> tools/orl stage 2 -> ORL) and PixPro,
    each with its detector."""
    run_all = _load_tool(repo_root, 'run_all_demos')
    out = run_all.main([
        '--smallest', '--methods', 'orl', 'pixpro', '--skip-random',
        '--pretrain-iters', '2', '--det-iters', '2', '--data-root',
        str(tmp_path / 'data'), '--work-dir', str(tmp_path / 'wd')
    ])
    assert [r['init'] for r in out['rows']] == ['ORL', 'PixPro']
    for row in out['rows']:
        assert 'error' not in row, row
        assert 0. <= row['bbox_mAP'] <= 1.
    for run in out['runs']:
        assert run['pretrain_checkpoint'].endswith('.pth')
    assert (tmp_path / 'wd' / 'pretrain_pixpro').is_dir()
    s2 = tmp_path / 'wd' / 'orl_stage2'
    for name in ('knn.npz', 'proposals.npz', 'correspondence.npz'):
        assert (s2 / name).is_file()
    assert (tmp_path / 'wd' / 'pretrain_byol').is_dir()  # stage 1
    assert (tmp_path / 'wd' / 'results.md').is_file()
    # the three stages and stage 2 recorded everything they wrote
    from demo_workflow import work_dir_folder
    assert work_dir_folder(str(tmp_path / 'wd')).foreign() == []


def test_run_all_demos_seeds_smallest(repo_root, tmp_path):
    """Two pre-training seeds (issue 20, item 2): a BYOL backbone and its
    detector per seed, the table's mean ± std (n), per-seed values and
    the monitors' rank correlation with AP in results.{md,json}; the two
    detectors trained at the same time (``--jobs 2``)."""
    run_all = _load_tool(repo_root, 'run_all_demos')
    wd = tmp_path / 'wd'
    out = run_all.main([
        '--smallest', '--seeds', '0', '1', '--methods', 'byol',
        '--skip-random', '--pretrain-iters', '2', '--det-iters', '2',
        '--jobs', '2',
        '--monitors', 'c5', 'probe-c4', '--data-root',
        str(tmp_path / 'data'), '--work-dir', str(wd)
    ])
    assert [(r['seed'], r['det_seed']) for r in out['runs']] == [(0, 0),
                                                                 (1, 1)]
    ckpts = [r['pretrain_checkpoint'] for r in out['runs']]
    assert ckpts[0].startswith(str(wd / 'pretrain_byol' / ''))
    assert ckpts[1].startswith(str(wd / 'pretrain_byol_s1' / ''))
    assert (wd / 'det_byol').is_dir() and (wd / 'det_byol_s1_d0').is_dir()
    row, = out['rows']
    assert row['init'] == 'BYOL' and 'error' not in row, row
    ap = row['stats']['bbox_mAP']
    assert ap['n'] == 2 and ap['values'] == [r['bbox_mAP']
                                             for r in out['runs']]
    for key in ('box_knn_top1', 'image_knn_top1',
                'box_probe_top1:probe-c4'):
        assert row['stats'][key]['n'] == 2, key
        assert [b[key] for b in out['backbones']] == \
            row['stats'][key]['values']
    assert [a['pairs'] for a in out['agreement']] == [2, 2, 2]
    saved = json.loads((wd / 'results.json').read_text())
    assert saved['meta']['seeds'] == [0, 1]
    assert saved['meta']['detector_jobs'] == 2
    assert [r['detector_jobs'] for r in saved['runs']] == [2, 2]
    assert len(saved['runs']) == 2 and len(saved['backbones']) == 2
    md = (wd / 'results.md').read_text()
    assert '| init | bbox AP | Δ AP vs baseline | AP50 | box kNN | ' \
        'image kNN | box probe c4 |' in md
    assert f'| BYOL | {100 * ap["mean"]:.1f} ± {100 * ap["std"]:.1f} (2) ' \
        '| - |' in md
    assert 'Spearman' in md
    assert '2 detector runs trained at a time (--jobs)' in md
    from demo_workflow import work_dir_folder
    assert work_dir_folder(str(wd)).foreign() == []


def test_mocov2_demo_is_densecl_demo_without_dense_branch(repo_root):
    """The MoCo v2 baseline differs from the DenseCL demo only in the
    model (mmpretrain's MoCo, no dense branch) and in the lambda warm-up
    hook; it builds and computes a loss."""
    from mmengine.registry import DefaultScope

    import mmscrl  # noqa: F401
    from mmscrl.registry import MODELS
    moco, dense = (Config.fromfile(osp.join(repo_root, p)).to_dict()
                   for p in (DEMO_CFGS[-1], DEMO_CFGS[2]))
    assert 'densecl' in DEMO_CFGS[2]
    for key in set(moco) | set(dense):
        if key not in ('model', 'custom_hooks'):
            assert moco.get(key) == dense.get(key), key
    assert moco['custom_hooks'] == [h for h in dense['custom_hooks']
                                    if h['type'] != 'DenseCLHook']
    m, d = moco['model'], dense['model']
    assert m['type'] == 'MoCo' and d['type'] == 'DenseCLOfficial'
    for key in ('queue_len', 'feat_dim', 'momentum', 'backbone', 'head'):
        assert m[key] == d[key], key
    assert m['neck']['type'] == 'MoCoV2Neck' and m['neck']['with_avg_pool']
    for key in ('in_channels', 'hid_channels', 'out_channels', 'init_cfg'):
        assert m['neck'][key] == d['neck'][key], key
    with DefaultScope.overwrite_default_scope('mmscrl'):
        model = MODELS.build(m)
    model.init_weights()
    torch.manual_seed(0)
    views = [torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64)]
    loss = model.loss(views, [None] * 4)['loss']
    assert torch.isfinite(loss) and model.queue.shape == (128, 1024)


@pytest.mark.parametrize('value,expected', [
    ('3', 3), ('4,2', 4), (' 2 ', 2), ('0', None), ('-1', None),
    ('abc', None), ('', None), (None, None)])
def test_omp_threads(monkeypatch, value, expected):
    """The demo jobs' thread count: OMP_NUM_THREADS's first level, else the
    CPU count (run_demo --jobs and run_all_demos --jobs split it)."""
    from demo_workflow import omp_threads
    if value is None:
        monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    else:
        monkeypatch.setenv('OMP_NUM_THREADS', value)
    monkeypatch.setattr(os, 'cpu_count', lambda: 7)
    assert omp_threads() == (7 if expected is None else expected)


def test_first_nan_loss_iter(tmp_path):
    from demo_workflow import first_nan_loss_iter
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        '{"loss": 1.0, "iter": 20}\n{"loss": NaN, "iter": 40}\n')
    assert first_nan_loss_iter(str(tmp_path)) == 40
    (vis / 'scalars.json').write_text('{"loss": 1.0, "iter": 20}\n')
    assert first_nan_loss_iter(str(tmp_path)) is None


def test_validated_without_detections(tmp_path):
    from demo_workflow import validated_without_detections
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    train = json.dumps(dict(loss=1., iter=4, step=4))
    (vis / 'scalars.json').write_text(train + '\n')
    assert not validated_without_detections(str(tmp_path))  # no val yet
    (vis / 'scalars.json').write_text(
        train + '\n' + json.dumps(dict(data_time=0.1, time=0.2, step=0)))
    assert validated_without_detections(str(tmp_path))
    (vis / 'scalars.json').write_text(
        train + '\n' + json.dumps({'coco/bbox_mAP': 0.1, 'step': 0}))
    assert not validated_without_detections(str(tmp_path))
    assert not validated_without_detections(str(tmp_path / 'none'))
    table = format_results([
        dict(init='ORL', bbox_mAP=0., bbox_mAP_50=0., no_detections=True,
             pretrain_seconds=1., detector_seconds=1.)
    ])
    assert '| ORL | 0.0 | 0.0 |' in table
    assert 'ORL: the detector made no detection' in table


def test_detector_without_detections_scores_zero(repo_root, tmp_path,
                                                 capsys):
    """A detector that outputs nothing on val (here: a score threshold no
    box can pass) is AP 0 with a warning, not a missing-metric error."""
    from demo_workflow import run_detector

    from mmscrl.demo.generator import generate_demo_dataset
    data = tmp_path / 'data'
    generate_demo_dataset(str(data), num_unlabeled=2, num_train=4,
                          num_val=2, img_size=64)
    cfg = tmp_path / 'no_dets.py'
    cfg.write_text(
        f"_base_ = '{osp.join(repo_root, DET_CFG)}'\n"
        'model = dict(test_cfg=dict(rcnn=dict(score_thr=1.01)))\n'
        'train_dataloader = dict(batch_size=2)\n')
    rec = run_detector(str(cfg), str(tmp_path / 'wd'), str(data),
                       max_iters=1, pretrained=None, num_workers=0)
    assert rec['bbox_mAP'] == 0. and rec['no_detections']
    assert 'made no detection on the val set' in capsys.readouterr().out


def test_stage2_tool_output_is_not_reused_from_other_inputs(repo_root,
                                                            tmp_path):
    """A finished ORL stage-2 file is reused only when the tool's
    arguments, input files and demo data are those it was made from."""
    run_all = _load_tool(repo_root, 'run_all_demos')

    class Banner:
        lines = []

        def info(self, msg):
            self.lines.append(msg)

    ckpt, out = tmp_path / 'ckpt.pth', str(tmp_path / 'knn.npz')
    ckpt.write_bytes(b'weights')
    script = ('import sys; open(sys.argv[sys.argv.index("--out") + 1], '
              '"w").write("x")')

    def cmd(k='5', workers='2'):
        return [sys.executable, '-c', script, str(ckpt), '--k', k, '--out',
                out, '--num-workers', workers]

    banner, data = Banner(), dict(version=2, seed=0)
    assert run_all.run_tool(cmd(), out, banner, data=data) == out
    stamp = json.loads(open(out + '.inputs.json').read())
    assert stamp['files'] == {str(ckpt): [7, os.stat(ckpt).st_mtime_ns]}
    # the same inputs, another worker count: reused
    run_all.run_tool(cmd(workers='8'), out, banner, data=data)
    assert banner.lines[-1] == f'reusing {out}'
    for change in (dict(cmd=cmd(k='7')), dict(data=dict(version=3, seed=0))):
        with pytest.raises(RuntimeError, match='made from other inputs'):
            run_all.run_tool(change.get('cmd', cmd()), out, banner,
                             data=change.get('data', data))
    ckpt.write_bytes(b'retrained')  # a new checkpoint in the same place
    with pytest.raises(RuntimeError, match=r'\(files changed'):
        run_all.run_tool(cmd(), out, banner, data=data)
