# Copyright (c) mmscrl contributors. All rights reserved.
from .cli import (add_cfg_options, add_config_arg, add_launcher_arg,
                  make_parser, resolve_work_dir, set_local_rank_env)
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'make_parser', 'add_config_arg',
    'add_cfg_options', 'add_launcher_arg', 'set_local_rank_env',
    'resolve_work_dir'
]
