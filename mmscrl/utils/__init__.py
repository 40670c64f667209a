# Copyright (c) mmscrl contributors. All rights reserved.
from .cli import (add_cfg_options, add_config_arg, add_launcher_arg,
                  check_checkpoint_file, finalize_dataloader_cfgs,
                  make_parser, resolve_work_dir, set_local_rank_env)
from .config_check import (unknown_top_level_keys,
                           warn_unknown_top_level_keys)
from .setup_env import register_all_modules

# ``work_dir_lock`` is imported from its module
# (``from mmscrl.utils.work_dir_lock import work_dir_lock``): re-exporting
# the function here would hide the module of the same name.
__all__ = [
    'register_all_modules', 'make_parser', 'add_config_arg',
    'add_cfg_options', 'add_launcher_arg', 'set_local_rank_env',
    'resolve_work_dir', 'finalize_dataloader_cfgs', 'check_checkpoint_file',
    'unknown_top_level_keys', 'warn_unknown_top_level_keys'
]
