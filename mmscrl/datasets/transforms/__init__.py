# Copyright (c) mmscrl contributors. All rights reserved.
from . import scrl_transforms  # noqa: F401,E402
from . import orl_transforms  # noqa: F401,E402
from . import fast_transforms  # noqa: F401,E402
from . import loading  # noqa: F401,E402
