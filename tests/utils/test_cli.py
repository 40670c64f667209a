# Copyright (c) mmscrl contributors. All rights reserved.
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmscrl.utils.cli import (add_cfg_options, add_config_arg,
                              add_launcher_arg, make_parser, resolve_work_dir,
                              set_local_rank_env)

DOC = """
Tool title line.

Usage::

    python tools/x.py CONFIG
"""


def _help(parser):
    return ' '.join(parser.format_help().split())


@pytest.mark.parametrize('default, shown', [
    (None, None),
    (False, None),
    (0, '(default: 0)'),
    ('none', '(default: none)'),
    ([20, 200], '(default: [20, 200])'),
])
def test_formatter_hides_unset_defaults(default, shown):
    parser = make_parser('A tool.')
    parser.add_argument('--opt', default=default, help='an option')
    text = _help(parser)
    if shown is None:
        assert '(default:' not in text
    else:
        assert f'an option {shown}' in text


@pytest.mark.parametrize('full, present, absent', [
    (False, ['Tool title line.'], ['Usage::', 'python tools/x.py']),
    (True, ['Tool title line.', 'Usage::', '    python tools/x.py CONFIG'],
     []),
])
def test_description_from_docstring(full, present, absent):
    parser = make_parser(DOC, full_description=full)
    if not full:
        assert parser.description == 'Tool title line.'
    text = parser.format_help()
    for s in present:
        assert s in text
    for s in absent:
        assert s not in text


def test_make_parser_passes_kwargs():
    parser = make_parser('A tool.', prog='tools/x.py', add_help=False)
    assert parser.prog == 'tools/x.py'
    assert '--help' not in parser.format_help()


@pytest.mark.parametrize('argv, expected', [
    ([], None),
    (['--cfg-options', 'a=1', 'b.c=x'], {
        'a': 1,
        'b.c': 'x'
    }),
    (['--cfg-options', 'k=[1,2]'], {
        'k': [1, 2]
    }),
])
def test_add_cfg_options(argv, expected):
    parser = make_parser('A tool.')
    add_config_arg(parser, 'the config')
    add_cfg_options(parser)
    args = parser.parse_args(['cfg.py'] + argv)
    assert args.config == 'cfg.py'
    assert args.cfg_options == expected
    assert 'the config' in _help(parser)


@pytest.mark.parametrize('argv, launcher, rank', [
    ([], 'none', 0),
    (['--launcher', 'pytorch', '--local-rank', '3'], 'pytorch', 3),
    (['--launcher', 'slurm', '--local_rank=2'], 'slurm', 2),
])
def test_add_launcher_arg(argv, launcher, rank, monkeypatch):
    parser = make_parser('A tool.')
    add_launcher_arg(parser)
    args = parser.parse_args(argv)
    assert (args.launcher, args.local_rank) == (launcher, rank)
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    set_local_rank_env(args)
    assert os.environ['LOCAL_RANK'] == str(rank)
    # torchrun's value wins over the option
    monkeypatch.setenv('LOCAL_RANK', '7')
    set_local_rank_env(args)
    assert os.environ['LOCAL_RANK'] == '7'


def test_add_launcher_arg_choices_and_no_local_rank():
    parser = make_parser('A tool.')
    add_launcher_arg(parser, choices=('none', 'pytorch'), help='who starts',
                     local_rank=False)
    assert parser.parse_args(['--launcher', 'pytorch']).launcher == 'pytorch'
    assert 'who starts' in _help(parser)
    for argv in (['--launcher', 'slurm'], ['--local-rank', '1']):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)


@pytest.mark.parametrize('cfg_work_dir, cli_work_dir, expected', [
    (None, 'out/cli', 'out/cli'),
    ('out/cfg', 'out/cli', 'out/cli'),
    ('out/cfg', None, 'out/cfg'),
    (None, None, osp.join('./work_dirs', 'scrl_r50_demo')),
])
def test_resolve_work_dir(cfg_work_dir, cli_work_dir, expected):
    cfg = Config(dict(model=dict(type='X')))
    if cfg_work_dir is not None:
        cfg.work_dir = cfg_work_dir
    resolve_work_dir(cfg, cli_work_dir, 'configs/demo/scrl_r50_demo.py')
    assert cfg.work_dir == expected
