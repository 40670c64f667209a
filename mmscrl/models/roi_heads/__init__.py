# Copyright (c) mmscrl contributors. All rights reserved.
"""mmdet RoI-head parts (imported lazily: they need mmdet)."""
