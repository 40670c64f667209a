# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage 2 (correspondence discovery): file formats, image kNN, selective
search, box filter and RoI-pair mining. See ``docs``/``configs/orl`` and the
module docstrings; nothing here is registered (offline tools only)."""
from .io import (ORLCorrespondence, ORLKnn, ORLProposals, load_correspondence,
                 load_knn, load_proposals, save_correspondence, save_knn,
                 save_proposals)

__all__ = [
    'ORLCorrespondence', 'ORLKnn', 'ORLProposals', 'load_correspondence',
    'load_knn', 'load_proposals', 'save_correspondence', 'save_knn',
    'save_proposals'
]
