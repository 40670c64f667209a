# Copyright (c) mmscrl contributors. All rights reserved.
from .densecl import DenseCLOfficial  # noqa: F401
