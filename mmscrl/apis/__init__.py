# Copyright (c) mmscrl contributors. All rights reserved.
"""Build models from mmscrl's configs (the mmpretrain ``apis`` style)."""
from .model import get_model, init_model, list_models

__all__ = ['get_model', 'init_model', 'list_models']
