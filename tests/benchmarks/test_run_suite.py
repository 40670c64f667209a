# Copyright (c) mmscrl contributors. All rights reserved.
"""Smoke test of the benchmark suite ``tools/benchmarks/run.py --quick``.

Tiny sizes; no timing is asserted (timings belong to the benchmark itself).
"""
import json
import os.path as osp

import pytest


@pytest.fixture
def suite(load_tool):
    return load_tool('benchmarks/run.py')


def test_quick_suite_writes_json_markdown_and_chart(tmp_path, suite):
    out = tmp_path / 'bench'
    res = suite.main(['--quick', '--sections',
                      'steps,flops,data,roialign,channels_last',
                      '--out-dir', str(out)])
    # every model stepped, every comparison has both ratios
    assert set(res['steps']['models']) == set(suite.MODELS_CFG)
    for row in res['steps']['models'].values():
        assert len(row['times_s']) == 1 and row['min_s'] > 0
    labels = [r['label'] for r in res['steps']['ratios']]
    assert labels == [c[0] for c in suite.COMPARISONS]
    for r in res['steps']['ratios']:
        assert r['median_ratio'] > 0 and r['min_ratio'] > 0
    assert res['steps']['scrl_pairs_per_batch'] > 0
    # data: every pipeline measured inline and through a DataLoader, the
    # ratios of the targets reported; SCRL's transforms account for all of
    # its time
    data = res['data']
    sets = [k for k, v in data.items() if isinstance(v, dict)
            and 'inline' in v]
    assert sets == ['ImageNet-like 500x375']
    for mode in ('inline', 'loader'):
        rows = data[sets[0]][mode]
        assert {'SCRL (fast)', 'SCRL (reference)', 'BYOL (mmpretrain)',
                'SCRL (torchvision, official-style)',
                'ORL stage 3 (fast)'} <= set(rows)
        assert all(r['img_per_s_median'] > 0 for r in rows.values())
        assert 'SCRL fast / torchvision official' in data[sets[0]][
            f'{mode}_ratios']
    assert sum(data['scrl_transform_share'].values()) == pytest.approx(1.)
    assert 0 < data['scrl_box_sampler_share'] < 1
    assert res['roialign']['mmcv_equals_torchvision']
    assert res['roialign']['detector']['equal']
    assert res['roialign']['detector']['speedup'] > 0
    # channels_last: both demo models stepped in both layouts; the layout
    # changes the float summation order only
    cl = res['channels_last']
    for m in ('SCRL', 'detector'):
        assert cl[m]['median_ratio'] > 0 and cl[m]['min_ratio'] > 0
        assert cl[m]['first_loss_diff'] < 1e-4
        assert len(cl[f'{m} NHWC']['times_s']) == 3
    # the box branch adds FLOPs to BYOL's; ORL's patches add more; PixPro's
    # dense projector on the C5 map costs about what BYOL's pooled one does
    fl = res['flops']['ratios']
    assert fl['SCRL / BYOL'] > 0 and fl['ORL stage 3 / BYOL'] > 1
    assert 0.5 < fl['PixPro / BYOL'] < 2
    assert res['setup']['roi_align'] in ('mmcv.ops', 'torchvision.ops')
    saved = json.loads((out / 'results.json').read_text())
    assert saved['setup']['quick'] and saved['setup']['depth'] == 18
    md = (out / 'results.md').read_text()
    assert '| SCRL / BYOL |' in md and 'box-pair sampler' in md
    assert '| PixPro / BYOL |' in md and '| PixPro |' in md
    assert '| SCRL fast / torchvision official | >= 2.0x |' in md
    assert '| Faster R-CNN R18-FPN, batch 2 at 64 px |' in md
    assert (out / 'ratios.png').read_bytes()[:4] == b'\x89PNG'
    assert (out / 'data_ratios.png').read_bytes()[:4] == b'\x89PNG'


def test_memory_child_and_arguments(suite):
    args = suite.parse_args(['--quick', '--memory-child', 'SCRL'])
    import mmscrl  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmscrl')
    row = suite.memory_child(args)
    assert row['model'] == 'SCRL'
    assert row['peak_rss_mb'] >= row['rss_before_model_mb'] > 0
    with pytest.raises(SystemExit):
        suite.parse_args(['--sections', 'steps,nope'])
    with pytest.raises(SystemExit):
        suite.parse_args(['--amp'])  # AMP needs CUDA
    assert suite.parse_args(['--models', 'SCRL, BYOL']).models == [
        'SCRL', 'BYOL']
    with pytest.raises(SystemExit):
        suite.parse_args(['--models', 'SCRL,SimCLR'])


def test_gpu_check_script_parses(repo_root):
    """``gpu_check.sh`` is valid bash (it is only run where a GPU is)."""
    import subprocess
    script = osp.join(repo_root, 'tools', 'benchmarks', 'gpu_check.sh')
    out = subprocess.run(['bash', '-n', script], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


def test_pixpro_model_and_batch(suite):
    """PixPro joins the suite: its R50 block adapted to ResNet-18 (2-D BN in
    the dense projector, C5 widths) and a batch from its own pipeline with
    the views' geometry."""
    args = suite.parse_args(['--quick'])
    cfg = suite.model_cfg('PixPro', args)
    assert cfg['type'] == 'PixPro'
    assert cfg['backbone']['depth'] == 18
    assert cfg['backbone']['norm_cfg']['type'] == 'BN'
    assert cfg['neck']['norm_cfg']['type'] == 'BN'  # a conv neck: not BN1d
    assert cfg['neck']['in_channels'] == 512
    assert ('PixPro / BYOL', 'PixPro', 'BYOL', 1.05) in suite.COMPARISONS
    import mmscrl  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmscrl')
    batches, _ = suite.make_batches(args)
    batch = batches['PixPro']
    assert len(batch['inputs']) == 2
    assert batch['inputs'][0].shape == (args.batch, 3, args.size, args.size)
    samples = batch['data_samples']
    assert len(samples) == args.batch
    from mmscrl.registry import MODELS
    c1, c2 = MODELS.get('PixPro').view_coords(samples)
    assert c1.shape == c2.shape == (args.batch, 4)
    assert ((c1 >= 0) & (c1 <= 1)).all() and ((c2 >= 0) & (c2 <= 1)).all()


def test_cuda_memory_columns_and_resident_bytes(suite):
    """The GPU rows of the report (written from a made-up result: no GPU
    here) and the model + optimizer byte count behind one column."""
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(4, 3),
                                torch.nn.BatchNorm1d(3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()

    class Wrapper:
        optimizer = opt

    # weights 15 + 6 BN affine, buffers 3 + 3 + 1 (int64), momentum 21
    expected = (15 + 6 + 3 + 3 + 21) * 4 + 8
    assert suite._resident_bytes(model, Wrapper()) == expected
    row = dict(median_s=0.1, min_s=0.09, times_s=[0.1],
               cuda_max_allocated_mb=30000., cuda_step_peak_mb=9000.,
               cuda_resident_mb=700.)
    res = dict(
        setup=dict(device='cuda', amp=True, depth=50, batch=64, size=224,
                   repeats=30, warmup=5, threads=16, cpu='x86_64',
                   gpu='NVIDIA H100 80GB HBM3', roi_align='torchvision.ops'),
        steps=dict(models={'BYOL': row, 'PixPro': dict(row, median_s=0.1)},
                   ratios=[dict(label='PixPro / BYOL', median_ratio=1.0,
                                min_ratio=1.0, target=1.05, met_median=True,
                                met_min=True)],
                   scrl_pairs_per_batch=0, orl_patch_px=96))
    md = suite.markdown(res)
    assert 'NVIDIA H100 80GB HBM3' in md and 'cuda AMP' in md
    assert 'RoIAlign from torchvision.ops' in md
    assert '| CUDA step peak MB | CUDA model + optimizer MB |' in md
    assert '| PixPro | 0.100 | 0.090 | 30000 | 9000 | 700 |' in md
