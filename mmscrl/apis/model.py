# Copyright (c) mmscrl contributors. All rights reserved.
"""One way to build a model from an mmscrl config (and a checkpoint).

Mirrors :func:`mmpretrain.apis.get_model` / ``init_model`` / ``list_models``,
which cannot be used on mmscrl's configs as they are: mmpretrain's
``get_model`` always builds in the ``mmpretrain`` scope (so ``SCRL``,
``DenseCLOfficial``, ``ORL`` ... are unknown) and its ``list_models`` reads
only mmpretrain's model index. Here the model is built in the config's own
``default_scope`` (``mmscrl`` for the pre-training configs, ``mmdet`` for the
detection demo), names come from mmscrl's ``model-index.yml``, and models
are usable on CPU out of the box (SyncBN reverted to BN).
"""
import copy
import fnmatch
import importlib
import os.path as osp
from os import PathLike
from typing import Dict, List, Optional, Sequence, Union

from mmengine.config import Config

ConfigType = Union[str, PathLike, Config, dict]


def _index_root() -> str:
    """Directory holding ``model-index.yml`` (``mmscrl/.mim`` or the repo)."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    mim = osp.join(pkg, '.mim')
    if osp.isfile(osp.join(mim, 'model-index.yml')):
        return mim
    repo = osp.dirname(pkg)  # source checkout without `pip install`
    if osp.isfile(osp.join(repo, 'model-index.yml')):
        return repo
    raise FileNotFoundError(
        f'no model-index.yml in {mim} or {repo}; reinstall mmscrl '
        '(pip install -e . or bash tools/setup/install.sh)')


def _model_table() -> Dict[str, dict]:
    """``{name: metafile entry with an absolute 'Config'}`` of every model."""
    from mmengine.fileio import load
    root = _index_root()
    table = {}
    for meta in load(osp.join(root, 'model-index.yml'))['Import']:
        for entry in load(osp.join(root, meta)).get('Models', []):
            entry = dict(entry)
            entry['Config'] = osp.join(root, entry['Config'])
            table[entry['Name'].lower()] = entry
    return table


def list_models(pattern: Optional[str] = None,
                exclude_patterns: Optional[Sequence[str]] = None
                ) -> List[str]:
    """Names of the models mmscrl ships configs for.

    Args:
        pattern (str, optional): wildcard pattern (``fnmatch``); any suffix
            matches, as in mmpretrain. Defaults to None (all models).
        exclude_patterns (Sequence[str], optional): wildcard patterns of
            names to drop. Defaults to None.

    Returns:
        list[str]: sorted model names, usable as ``get_model(name)``.

    Examples:
        >>> from mmscrl.apis import list_models
        >>> list_models('scrl*in1k')
        ['scrl_resnet50_8xb256-lars-coslr-1000e_in1k',
         'scrl_resnet50_8xb256-lars-coslr-200e_in1k']
    """
    names = set(_model_table())
    if pattern is not None:
        names = set(fnmatch.filter(names, pattern.lower() + '*'))
    for exclude in exclude_patterns or []:
        names -= set(fnmatch.filter(names, exclude.lower() + '*'))
    return sorted(names)


def _load_config(model: ConfigType) -> Config:
    if isinstance(model, Config):
        return copy.deepcopy(model)
    if isinstance(model, dict):
        return Config(copy.deepcopy(model))
    path = str(model)
    if path.endswith('.py'):
        if not osp.isfile(path):
            raise FileNotFoundError(f'config file {path} does not exist')
        return Config.fromfile(path)
    table = _model_table()
    if path.lower() not in table:
        raise ValueError(
            f'"{path}" is neither a config file (*.py) nor a model name; '
            f'mmscrl.apis.list_models() gives the names: '
            f'{", ".join(sorted(table))}')
    return Config.fromfile(table[path.lower()]['Config'])


def get_model(model: ConfigType,
              pretrained: Union[str, bool, None] = None,
              device: Union[str, 'torch.device', None] = None,  # noqa: F821
              cfg_options: Optional[dict] = None,
              strict: bool = False,
              revert_sync_bn: bool = True,
              init_weights: bool = False,
              **kwargs):
    """Build a model from a config (file, name or object) and load weights.

    Args:
        model (str | PathLike | Config | dict): a config file (``*.py``), a
            name from :func:`list_models`, or a config object.
        pretrained (str | bool, optional): checkpoint path or URL (anything
            :class:`mmengine.runner.CheckpointLoader` reads: local files,
            ``http(s)://``, ``torchvision://``, ``open-mmlab://``...);
            ``True`` uses the config's ``load_from``. None/False keeps the
            initialisation. Defaults to None.
        device (str | torch.device, optional): move the model there.
            Defaults to None (stays on CPU).
        cfg_options (dict, optional): dotted-key overrides merged into the
            whole config first (``{'model.backbone.depth': 18}``).
            Defaults to None.
        strict (bool): refuse missing/unexpected checkpoint keys. Defaults
            to False (as mmpretrain's ``get_model``; mismatches are logged).
        revert_sync_bn (bool): turn ``SyncBN`` into ``BN`` so the model runs
            outside a distributed job and on CPU. Defaults to True.
        init_weights (bool): call ``model.init_weights()`` before loading
            ``pretrained`` (runs the ``init_cfg`` of every module, e.g. a
            ``PretrainedBackbone`` file). Defaults to False.
        **kwargs: overrides of the ``model`` field (``backbone=dict(...)``).

    Returns:
        mmengine.model.BaseModel: the model in eval mode, with the resolved
        config in ``model.cfg`` (and ``model._config``, mmpretrain's name).

    Examples:
        >>> from mmscrl.apis import get_model
        >>> model = get_model('densecl_resnet18_1xb8-coslr-20i_demo')
        >>> model = get_model('configs/scrl/scrl_resnet50_8xb256-lars-'
        ...                   'coslr-200e_in1k.py', pretrained='epoch_200.pth')
    """
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmengine.registry import DefaultScope

    import mmscrl  # noqa: F401  (registers modules, applies compat fixes)

    cfg = _load_config(model)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if kwargs:
        cfg.merge_from_dict({'model': kwargs})
    if 'model' not in cfg:
        raise ValueError(f'config {getattr(cfg, "filename", model)}: '
                         'missing key "model"')
    if pretrained is True:
        pretrained = cfg.get('load_from', None)
        if not pretrained:
            raise ValueError(
                'pretrained=True needs `load_from` in the config '
                f'{getattr(cfg, "filename", model)}; mmscrl ships no '
                'released weights, pass a checkpoint path instead')
    elif pretrained is False:
        pretrained = None
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor', None) is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)

    scope = cfg.get('default_scope', 'mmscrl')
    try:  # the scope's registries (mmdet for the detection demo ...)
        importlib.import_module(f'{scope}.registry')
    except ImportError as e:
        raise ImportError(
            f'config {getattr(cfg, "filename", model)}: default_scope '
            f'"{scope}" needs the package {scope}: {e}') from e
    with DefaultScope.overwrite_default_scope(scope):
        net = ROOT_MODELS.build(model_cfg)
    if revert_sync_bn:
        from mmengine.model import revert_sync_batchnorm
        net = revert_sync_batchnorm(net)
    if init_weights:
        net.init_weights()
    if pretrained:
        from mmengine.runner import load_checkpoint
        load_checkpoint(net, str(pretrained), map_location='cpu',
                        strict=strict, logger='current')
    if device is not None:
        net = net.to(device)
    net.cfg = cfg
    net._config = cfg
    return net.eval()


def init_model(config: ConfigType,
               checkpoint: Optional[str] = None,
               device: Union[str, 'torch.device', None] = None,  # noqa: F821
               **kwargs):
    """Build a model from ``config`` and load ``checkpoint`` (mmpretrain API).

    Args:
        config (str | PathLike | Config | dict): as ``model`` of
            :func:`get_model`.
        checkpoint (str, optional): checkpoint path or URL. Defaults to None.
        device (str | torch.device, optional): target device. Defaults to
            None.
        **kwargs: forwarded to :func:`get_model`.

    Returns:
        mmengine.model.BaseModel: the model in eval mode.
    """
    return get_model(config, pretrained=checkpoint, device=device, **kwargs)
