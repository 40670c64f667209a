# Copyright (c) mmscrl contributors. All rights reserved.
