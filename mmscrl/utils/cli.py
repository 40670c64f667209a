# Copyright (c) mmscrl contributors. All rights reserved.
"""Command-line conventions shared by the scripts under ``tools/``.

Every tool builds its parser with :func:`make_parser` (help lines show the
defaults that mean something), and the options that several tools share are
declared once here: the ``config`` positional (:func:`add_config_arg`),
``--cfg-options`` (:func:`add_cfg_options`) and ``--launcher`` /
``--local-rank`` (:func:`add_launcher_arg`, :func:`set_local_rank_env`).
:func:`resolve_work_dir` is the work-dir rule of ``tools/train.py`` and
``tools/test.py``; :func:`finalize_dataloader_cfgs` sets their dataloader
options once ``--cfg-options`` are merged, and
:func:`check_checkpoint_file` checks a checkpoint argument before a Runner
is built.

The module needs only ``argparse``, ``os`` and MMEngine's
:class:`~mmengine.config.DictAction`, and ``import mmscrl`` (run first) is
lazy, so a tool that builds its parser before its heavy imports (torch,
models, OpenCV: inside ``main()``) answers ``--help`` without them
(``tests/tools/test_help_speed.py``).
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import DictAction

__all__ = [
    'HelpFormatter', 'RawHelpFormatter', 'make_parser', 'add_config_arg',
    'add_cfg_options', 'add_launcher_arg', 'set_local_rank_env',
    'resolve_work_dir', 'finalize_dataloader_cfgs', 'check_checkpoint_file'
]

DATALOADER_FIELDS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help formatter that appends ``(default: ...)`` to each argument's
    help, except where the default is ``None`` or ``False`` (an unset
    option or an off switch, where the suffix says nothing)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class RawHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`HelpFormatter` that prints the description as written (line
    breaks and indented examples kept)."""


def make_parser(description: str,
                full_description: bool = False,
                **kwargs) -> argparse.ArgumentParser:
    """Build the argument parser of a tool.

    Args:
        description (str): The tool's description; usually its module
            docstring (``__doc__``).
        full_description (bool): If True, print the whole ``description``
            as written (:class:`RawHelpFormatter`), e.g. a docstring with a
            usage example. If False, print only its first non-empty line,
            wrapped to the terminal (:class:`HelpFormatter`).
            Defaults to False.
        **kwargs: Other keyword arguments of
            :class:`argparse.ArgumentParser` (``prog``, ``add_help`` ...);
            ``formatter_class`` overrides the one chosen above.

    Returns:
        argparse.ArgumentParser: The parser, with no argument added yet.
    """
    if full_description:
        formatter = RawHelpFormatter
    else:
        lines = [ln.strip() for ln in (description or '').splitlines()]
        description = next((ln for ln in lines if ln), '')
        formatter = HelpFormatter
    kwargs.setdefault('formatter_class', formatter)
    return argparse.ArgumentParser(description=description, **kwargs)


def add_config_arg(parser: argparse.ArgumentParser,
                   help: str = 'config file path') -> None:
    """Add the positional ``config`` argument (a config file path).

    Args:
        parser (argparse.ArgumentParser): The parser to extend.
        help (str): Its help text. Defaults to ``'config file path'``.
    """
    parser.add_argument('config', help=help)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--cfg-options key=value ...``: overrides merged into the config
    (parsed by MMEngine's :class:`~mmengine.config.DictAction` into a dict,
    ``None`` if the option is not given).

    Args:
        parser (argparse.ArgumentParser): The parser to extend.
    """
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override settings in the config, key=value (a.b.c=v)')


def add_launcher_arg(parser: argparse.ArgumentParser,
                     choices: Sequence[str] = LAUNCHERS,
                     help: str = 'job launcher',
                     local_rank: bool = True) -> None:
    """Add ``--launcher`` (default ``'none'``) and, optionally,
    ``--local-rank`` / ``--local_rank`` (int, default 0).

    ``torch.distributed.launch`` passes ``--local-rank`` (torch >= 2.0) or
    ``--local_rank`` (older); both spellings fill ``args.local_rank``.
    ``torchrun`` passes neither and sets the ``LOCAL_RANK`` environment
    variable instead; call :func:`set_local_rank_env` after parsing so that
    both ways end in ``LOCAL_RANK``, where MMEngine's ``init_dist`` reads it.

    Args:
        parser (argparse.ArgumentParser): The parser to extend.
        choices (Sequence[str]): Accepted launchers.
            Defaults to ``('none', 'pytorch', 'slurm', 'mpi')``.
        help (str): Help text of ``--launcher``.
            Defaults to ``'job launcher'``.
        local_rank (bool): Whether to add ``--local-rank`` as well (tools
            that are only started by ``torchrun`` do without).
            Defaults to True.
    """
    parser.add_argument('--launcher', choices=list(choices), default='none',
                        help=help)
    if local_rank:
        parser.add_argument('--local-rank', '--local_rank', type=int,
                            default=0,
                            help='rank of the process on its machine, set '
                            'by torch.distributed.launch (exported as '
                            'LOCAL_RANK unless that is set)')


def set_local_rank_env(args: argparse.Namespace) -> None:
    """Export ``args.local_rank`` as the ``LOCAL_RANK`` environment variable
    unless it is set already (by ``torchrun``).

    Args:
        args (argparse.Namespace): Parsed arguments of a parser extended by
            :func:`add_launcher_arg`.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)


def resolve_work_dir(cfg, work_dir: Optional[str], config_path: str) -> None:
    """Set ``cfg.work_dir`` in place: ``work_dir`` (the ``--work-dir``
    option) if given, else the config's own ``work_dir``, else
    ``./work_dirs/<config file name without extension>``.

    Args:
        cfg (mmengine.Config): The loaded config; modified in place.
        work_dir (str, optional): The ``--work-dir`` value (None if not
            given).
        config_path (str): Path of the config file (names the default
            folder).
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def finalize_dataloader_cfgs(cfg,
                             fields: Sequence[str] = DATALOADER_FIELDS,
                             default_persistent_workers: bool = False,
                             no_pin_memory: bool = False,
                             no_persistent_workers: bool = False) -> None:
    """Settle the worker options of the dataloader configs, in place.

    Call it after ``--cfg-options`` are merged, so that the final
    ``num_workers`` decides: ``persistent_workers`` is turned off wherever
    ``num_workers`` is 0 (torch's ``DataLoader`` refuses the combination),
    e.g. after ``--cfg-options train_dataloader.num_workers=0`` on a config
    with ``persistent_workers=True``.

    Args:
        cfg (mmengine.Config): The config; modified in place. Fields that
            are missing or None (``--no-validate``) are skipped.
        fields (Sequence[str]): Dataloader keys to settle.
            Defaults to train/val/test dataloaders.
        default_persistent_workers (bool): Set ``persistent_workers=True``
            where the config does not set it (``tools/train.py``).
            Defaults to False.
        no_pin_memory (bool): Set ``pin_memory=False`` (``--no-pin-memory``).
            Defaults to False.
        no_persistent_workers (bool): Set ``persistent_workers=False``
            (``--no-persistent-workers``). Defaults to False.
    """
    for field in fields:
        loader = cfg.get(field, None)
        if not isinstance(loader, dict):
            continue
        if default_persistent_workers:
            loader.setdefault('persistent_workers', True)
        if no_pin_memory:
            loader['pin_memory'] = False
        if no_persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False


def check_checkpoint_file(path: str, option: str = 'checkpoint') -> None:
    """Refuse a local checkpoint that is missing, empty or a truncated zip
    archive, naming it and its size, before a Runner is built (torch's own
    error on such a file names no file).

    URLs (``://``) and folders are not checked. A file that is not a zip
    archive at all is left to the loader (legacy ``torch.save`` files are
    plain pickles).

    Args:
        path (str): The checkpoint argument.
        option (str): How the tool's user gave it, for the message.
            Defaults to ``'checkpoint'``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is empty, or a zip archive that is cut short
            or fails its CRC check.
    """
    if '://' in str(path) or osp.isdir(path):
        return
    if not osp.isfile(path):
        raise FileNotFoundError(f'{option} {path} not found')
    size = osp.getsize(path)
    if size == 0:
        raise ValueError(f'{option} {path} is empty (0 bytes), e.g. '
                         'truncated by an interrupted save or copy; pass a '
                         'complete checkpoint')
    with open(path, 'rb') as f:
        is_zip = f.read(4) == b'PK\x03\x04'
    from mmscrl.compat import checkpoint_is_complete
    if is_zip and not checkpoint_is_complete(path):
        raise ValueError(
            f'{option} {path} is not a complete checkpoint ({size} bytes: '
            'a truncated or corrupt torch.save zip archive, e.g. left by '
            'an interrupted save or copy); pass a complete checkpoint')
