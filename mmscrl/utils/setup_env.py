# Copyright (c) mmscrl contributors. All rights reserved.
from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmscrl module so that all classes are registered.

    Args:
        init_default_scope (bool): Also make ``'mmscrl'`` the current default
            scope (if no scope is active yet). Defaults to True.
    """
    import mmscrl.datasets  # noqa: F401
    import mmscrl.engine  # noqa: F401
    import mmscrl.models  # noqa: F401
    if init_default_scope and not DefaultScope.check_instance_created('mmscrl'):
        if DefaultScope.get_current_instance() is None:
            DefaultScope.get_instance('mmscrl', scope_name='mmscrl')
