# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage-3 dataset (official: Jiahao000/ORL ``datasets/orl.py`` +
``data_sources/coco_orl_json.py``)."""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mmscrl.registry import DATASETS
from .transforms.orl_transforms import get_orl_rng


@DATASETS.register_module()
class ORLDataset(BaseDataset):
    """Images with their ORL stage-2 correspondence, sampled per iteration.

    Every ``__getitem__`` draws (with :func:`get_orl_rng`, seeded per rank,
    worker and epoch; the official code reseeds every worker identically,
    so its draws repeat across GPUs and epochs):

    1. a kNN slot ``k`` uniformly among the first ``topk_knn_image`` slots
       (official ``random.randint``) -> kNN image ``knn[idx, k]``;
    2. ``intra_box``: a uniformly random filtered box of the image (its
       jitter is drawn later by :class:`ORLCropPatches`, which knows the
       image size);
    3. ``inter_pair``: a uniformly random RoI pair of slot ``k``.

    Empty lists never occur in official files (``box_filter`` keeps at least
    one box and retrieval at least one pair per kNN image). For other files:
    a slot without pairs is skipped (``k`` is drawn among the slots that have
    pairs, which is the official draw when all have some); if no slot has a
    pair, ``inter_valid`` is False and :class:`ORL` leaves the sample out of
    the inter-RoI loss; an image without boxes uses the whole image as its
    intra box.

    The results handed to the pipeline hold ``img_path``, ``sample_idx``,
    ``knn_img_path``, ``knn_idx``, ``intra_box`` ((4,) xywh or None),
    ``inter_pair`` ((8,)) and ``inter_valid`` (bool).

    Args:
        ann_file (str): Correspondence file read by
            :func:`mmscrl.orl.load_correspondence` (our ``.npz`` or the
            official ``*_correspondence.json``).
        data_prefix (str | dict): Folder of the images (``file_names`` of
            the file are relative to it), or ``dict(img_path=...)``.
            Defaults to ''.
        data_root (str): Joined to relative ``ann_file``/``data_prefix``.
            Defaults to ''.
        pipeline (Sequence[dict]): Transforms. Defaults to ().
        topk_knn_image (int): Number of leading kNN slots to sample from
            (official ``topk_knn_image``). Defaults to 10.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.

    Raises:
        ValueError: when the data list is loaded, naming ``ann_file`` and
            the entry: if the file is malformed, if ``topk_knn_image``
            exceeds its kNN slots, or if an image name is absolute, leaves
            the image folder (``../../x.jpg``) or is not valid UTF-8 (such
            names only come from a foreign or crafted file; the check is
            lexical, :func:`mmscrl.orl.utils.check_image_name`, so symlinks
            inside the user's own image folder are followed as usual).
    """

    def __init__(self,
                 ann_file: str,
                 data_prefix: Union[str, dict] = '',
                 data_root: str = '',
                 pipeline: Sequence = (),
                 topk_knn_image: int = 10,
                 **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        if topk_knn_image < 1:
            raise ValueError(f'topk_knn_image must be >= 1, got '
                             f'{topk_knn_image}')
        self.topk_knn_image = topk_knn_image
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=pipeline,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per image of the correspondence file.

        Returns:
            list[dict]: ``img_path`` (``data_prefix`` joined with the
            validated relative name), ``boxes``, ``knn`` and ``pairs`` (the
            first ``topk_knn_image`` slots).

        Raises:
            ValueError: see the class docstring.
        """
        from mmscrl.orl import load_correspondence

        # names are checked by the loader: relative, inside the image
        # folder, UTF-8 (mmscrl.orl.utils.check_image_name)
        corr = load_correspondence(self.ann_file)
        num_slots = corr.knn.shape[1]
        if self.topk_knn_image > num_slots:
            raise ValueError(
                f'{self.ann_file}: topk_knn_image={self.topk_knn_image} '
                f'exceeds the {num_slots} kNN images per image in the file')
        prefix = self.data_prefix.get('img_path', '') or ''
        k = self.topk_knn_image
        return [
            dict(
                img_path=osp.join(prefix, name),
                boxes=np.asarray(corr.boxes[i], dtype=np.float32),
                knn=np.asarray(corr.knn[i, :k], dtype=np.int64),
                pairs=[np.asarray(p, dtype=np.float32)
                       for p in corr.pairs[i][:k]])
            for i, name in enumerate(corr.file_names)
        ]

    def prepare_data(self, idx: int) -> Optional[dict]:
        info = self.get_data_info(idx)
        rng = get_orl_rng()
        slots = [k for k, p in enumerate(info['pairs']) if len(p)]
        results = dict(img_path=info['img_path'], sample_idx=idx)
        boxes = info['boxes']
        results['intra_box'] = (
            boxes[rng.integers(len(boxes))].copy() if len(boxes) else None)
        if slots:
            k = slots[rng.integers(len(slots))]
            pairs = info['pairs'][k]
            knn_idx = int(info['knn'][k])
            results.update(
                knn_idx=knn_idx,
                knn_img_path=self.get_data_info(knn_idx)['img_path'],
                inter_pair=pairs[rng.integers(len(pairs))].copy(),
                inter_valid=True)
        else:
            results.update(
                knn_idx=-1,
                knn_img_path=info['img_path'],
                inter_pair=np.zeros(8, dtype=np.float32),
                inter_valid=False)
        return self.pipeline(results)
