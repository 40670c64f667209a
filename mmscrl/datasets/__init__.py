# Copyright (c) mmscrl contributors. All rights reserved.
from .transforms import *  # noqa: F401,F403
from .orl_dataset import ORLDataset  # noqa: F401
