# Copyright (c) mmscrl contributors. All rights reserved.
from .dali_loops import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .optim_wrapper_constructor import *  # noqa: F401,F403
