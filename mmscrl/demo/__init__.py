# Copyright (c) mmscrl contributors. All rights reserved.
"""Built-in synthetic demo data (no download needed), and the rules by
which the demo deletes only what it wrote.

The names of :mod:`mmscrl.demo.generator` (which imports OpenCV) are
imported on first use."""
from mmscrl._lazy import lazy_exports
from .lock import DemoBusyError, demo_lock
from .ownership import (ORL_STAGE2_OUTPUTS, TRAINING_RUN_OUTPUTS,
                        ForeignFilesError, OwnedFolder)

__all__ = [
    'CLASSES', 'MARKER', 'DemoDataDirError', 'check_replaceable',
    'generate_demo_dataset', 'ensure_demo_dataset', 'dataset_is_complete',
    'demo_paths', 'render_scene', 'mask_to_bbox', 'DemoBusyError',
    'demo_lock', 'ForeignFilesError', 'OwnedFolder', 'TRAINING_RUN_OUTPUTS',
    'ORL_STAGE2_OUTPUTS'
]
__getattr__, __dir__ = lazy_exports(
    __name__, {
        name: '.generator'
        for name in ('CLASSES', 'MARKER', 'DemoDataDirError',
                     'check_replaceable', 'dataset_is_complete', 'demo_paths',
                     'ensure_demo_dataset', 'generate_demo_dataset',
                     'mask_to_bbox', 'render_scene')
    })
