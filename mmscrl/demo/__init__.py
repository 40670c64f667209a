# Copyright (c) mmscrl contributors. All rights reserved.
"""Built-in synthetic demo data (no download needed)."""
from .generator import (CLASSES, MARKER, DemoDataDirError, check_replaceable,
                        dataset_is_complete, demo_paths, ensure_demo_dataset,
                        generate_demo_dataset, mask_to_bbox, render_scene)

__all__ = [
    'CLASSES', 'MARKER', 'DemoDataDirError', 'check_replaceable',
    'generate_demo_dataset', 'ensure_demo_dataset', 'dataset_is_complete',
    'demo_paths', 'render_scene', 'mask_to_bbox'
]
