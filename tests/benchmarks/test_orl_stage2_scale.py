# Copyright (c) mmscrl contributors. All rights reserved.
"""Smoke run of ``tools/benchmarks/orl_stage2_scale.py --quick`` (every
measurement and the extrapolation run; no timing is asserted)."""


def test_orl_stage2_scale_quick(capsys, load_tool):
    mod = load_tool('benchmarks/orl_stage2_scale.py')
    res = mod.main(['--quick', '--procs', '1,8'])
    ss, co = res['selective_search'], res['correspondence']
    assert ss['images'] == 4 and ss['raw_boxes_per_image'] > 1
    # same OpenCV algorithm: the plain loop finds as many boxes as ours
    assert ss['plain_raw_boxes_per_image'] == ss['raw_boxes_per_image']
    assert co['reference_identical_to_cached_fp32'] is True
    assert co['roi_forwards_reference'] > co['roi_forwards_cached']
    # .npy headers aside, the float16 cache is half the float32 one
    assert 0.45 < co['cache_bytes_per_image_fp16'] / \
        co['cache_bytes_per_image_fp32'] < 0.55
    assert [r['procs'] for r in res['extrapolation']] == [1, 8]
    assert '| selective search, plain per-image loop' in \
        capsys.readouterr().out
