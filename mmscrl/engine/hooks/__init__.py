# Copyright (c) mmscrl contributors. All rights reserved.
from .queue_check_hook import QueueLenCheckHook  # noqa: F401
from .ema_momentum_hook import EMAMomentumLoggerHook  # noqa: F401
from .non_finite_check_hook import NonFiniteCheckHook  # noqa: F401
from .box_knn_hook import BoxKNNHook  # noqa: F401
from .precise_bn_hook import DetPreciseBNHook  # noqa: F401
from .channels_last_hook import ChannelsLastHook  # noqa: F401
