# Copyright (c) mmscrl contributors. All rights reserved.
"""Pictures of what each method learns from (PNG, headless).

Functions behind ``tools/visualization/*.py``; import the submodules
directly (``mmscrl.visualization.curves`` etc.), they pull in matplotlib or
model code only when used.
"""
