# Copyright (c) mmscrl contributors. All rights reserved.
from .queue_check_hook import QueueLenCheckHook  # noqa: F401
