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
    res = suite.main(['--quick', '--sections', 'steps,flops,data,roialign',
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
    # the box branch adds FLOPs to BYOL's; ORL's patches add more
    fl = res['flops']['ratios']
    assert fl['SCRL / BYOL'] > 0 and fl['ORL stage 3 / BYOL'] > 1
    saved = json.loads((out / 'results.json').read_text())
    assert saved['setup']['quick'] and saved['setup']['depth'] == 18
    md = (out / 'results.md').read_text()
    assert '| SCRL / BYOL |' in md and 'box-pair sampler' in md
    assert '| SCRL fast / torchvision official | >= 2.0x |' in md
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
