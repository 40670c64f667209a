# Copyright (c) mmscrl contributors. All rights reserved.
from .densecl import DenseCLOfficial  # noqa: F401
from . import scrl  # noqa: F401,E402
from .orl import ORL  # noqa: F401
from .pixpro import PixPro  # noqa: F401,E402
