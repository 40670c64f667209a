# Copyright (c) mmscrl contributors. All rights reserved.
"""Stage-1 model loading and the two feature extractors of ORL stage 2.

* **Image features for kNN** (official ``ExtractorHook``/``Extractor``):
  eval mode, torchvision ``Resize(256) -> CenterCrop(224) -> ToTensor ->
  Normalize`` (PIL bilinear), then the *online projector* output (neck of
  backbone C5), L2-normalised (256-d for ORL).
* **RoI embeddings** (official ``CorrespondenceDataset`` +
  ``Correspondence.forward_test``): each filtered box is cut with
  ``TF.resized_crop(img, y, x, h, w, 224)`` (bilinear), ``ToTensor``,
  ``Normalize``, and goes through the online *backbone* in eval mode, then
  global average pooling and L2 normalisation (2048-d for ResNet-50). As in
  the official code all crops of one image form one batch, so the cached
  embeddings are bit-identical to the official per-query recomputation.

The stage-1 model is any mmscrl/mmpretrain self-supervised model with
``backbone`` and ``neck`` attributes (mmpretrain ``BYOL``), built from its
config and loaded from an mmengine checkpoint (``{'state_dict': ...}``)
without a Runner; SyncBN layers are reverted to BN (identical in eval mode)
so the tools also run on CPU.
"""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .box_filter import box_filter
from .jobs import die_with_parent
from .utils import open_rgb

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'build_stage1_model', 'ImageListDataset',
    'RoICropDataset', 'image_features', 'roi_embeddings', 'crop_rois',
    'filter_image_boxes', 'worker_init'
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_stage1_model(config, checkpoint: Optional[str] = None,
                       device='cpu', cfg_options: Optional[dict] = None):
    """Build the stage-1 model from a config and load a checkpoint.

    Args:
        config (str | dict | mmengine.Config): config file or object with a
            ``model`` field (e.g. mmpretrain ``BYOL``).
        checkpoint (str, optional): mmengine checkpoint (``state_dict``
            inside) or a bare state dict. Required for real use; tests may
            pass ``None`` to keep the random initialisation.
        device (str | torch.device): target device. Defaults to 'cpu'.
        cfg_options (dict, optional): overrides merged into the config.

    Returns:
        torch.nn.Module: the model in eval mode on ``device``.
    """
    from mmscrl.apis import get_model

    # one model-building path (mmscrl.apis); init_cfg dropped: the
    # checkpoint provides every weight
    model = get_model(config, pretrained=checkpoint, device=device,
                      cfg_options=cfg_options, strict=True, init_cfg=None)
    for attr in ('backbone', 'neck'):
        if not hasattr(model, attr):
            raise ValueError(f'stage-1 model {type(model).__name__} has no '
                             f'"{attr}" (expected a BYOL-like model)')
    return model


def _to_tensor_normalized(pil_img, mean, std) -> torch.Tensor:
    import torchvision.transforms.functional as TF
    return TF.normalize(TF.to_tensor(pil_img), mean, std)


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn`` of the stage-2 tools: the worker dies
    with its parent process (see :func:`~mmscrl.orl.jobs.die_with_parent`).
    """
    die_with_parent()


class ImageListDataset(Dataset):
    """Images for kNN features: ``Resize(resize) -> CenterCrop(crop)``.

    Args:
        data_root (str): folder of the relative ``file_names``.
        file_names (Sequence[str]): images (canonical order).
        indices (Sequence[int], optional): subset of positions to serve.
        resize (int): shorter side after resize. Defaults to 256.
        crop (int): centre crop size. Defaults to 224.
        mean, std: RGB normalisation in [0, 1] units (ImageNet).

    Items are ``(index, (3, crop, crop) float tensor)``.
    """

    def __init__(self, data_root: str, file_names: Sequence[str],
                 indices: Optional[Sequence[int]] = None, resize: int = 256,
                 crop: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.data_root, self.file_names = data_root, list(file_names)
        self.indices = list(range(len(self.file_names))) \
            if indices is None else list(indices)
        self.resize, self.crop, self.mean, self.std = resize, crop, mean, std

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        import torchvision.transforms.functional as TF
        from torchvision.transforms import InterpolationMode
        idx = self.indices[i]
        img = open_rgb(osp.join(self.data_root, self.file_names[idx]))
        img = TF.resize(img, self.resize, InterpolationMode.BILINEAR)
        img = TF.center_crop(img, self.crop)
        return idx, _to_tensor_normalized(img, self.mean, self.std)


def filter_image_boxes(raw_boxes: np.ndarray, img_size, **filter_kwargs):
    """:func:`box_filter` with a fallback for an image without proposals.

    The official code raises ``IndexError`` there; we use the whole image
    ``[0, 0, W, H]`` (documented deviation; never seen with OpenCV, which
    always returns at least the full-image region).
    """
    if len(raw_boxes) == 0:
        w, h = img_size
        return np.array([[0, 0, w, h]], dtype=np.float32)
    return box_filter(raw_boxes, **filter_kwargs)


def crop_rois(pil_img, boxes: np.ndarray, patch_size: int = 224,
              mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """Bilinear ``resized_crop`` of each ``xywh`` box to a square patch.

    Returns:
        Tensor: (B, 3, patch_size, patch_size) normalised crops.
    """
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode
    patches = []
    for x, y, w, h in np.asarray(boxes).tolist():
        p = TF.resized_crop(pil_img, int(round(y)), int(round(x)),
                            int(round(h)), int(round(w)),
                            [patch_size, patch_size],
                            InterpolationMode.BILINEAR)
        patches.append(_to_tensor_normalized(p, mean, std))
    return torch.stack(patches)


class RoICropDataset(Dataset):
    """Per image: filter the raw proposals and cut the RoI crops.

    Args:
        data_root (str): folder of the relative ``file_names``.
        file_names (Sequence[str]): images (canonical order).
        raw_boxes (Sequence[np.ndarray]): raw proposals per image.
        indices (Sequence[int], optional): subset of positions to serve.
        patch_size (int): crop size. Defaults to 224.
        filter_cfg (dict, optional): :func:`box_filter` keyword arguments.
        mean, std: RGB normalisation (ImageNet).

    Items are ``(index, (B, 4) float32 filtered boxes, (B, 3, P, P) crops)``.
    """

    def __init__(self, data_root: str, file_names: Sequence[str],
                 raw_boxes: Sequence[np.ndarray],
                 indices: Optional[Sequence[int]] = None,
                 patch_size: int = 224, filter_cfg: Optional[dict] = None,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD):
        if len(raw_boxes) != len(file_names):
            raise ValueError(f'{len(raw_boxes)} proposal lists for '
                             f'{len(file_names)} images')
        self.data_root, self.file_names = data_root, list(file_names)
        self.raw_boxes = raw_boxes
        self.indices = list(range(len(self.file_names))) \
            if indices is None else list(indices)
        self.patch_size, self.mean, self.std = patch_size, mean, std
        self.filter_cfg = dict(filter_cfg or {})

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        idx = self.indices[i]
        img = open_rgb(osp.join(self.data_root, self.file_names[idx]))
        boxes = filter_image_boxes(self.raw_boxes[idx], img.size,
                                   **self.filter_cfg)
        return idx, boxes, crop_rois(img, boxes, self.patch_size, self.mean,
                                     self.std)


@torch.no_grad()
def image_features(model, imgs: torch.Tensor) -> torch.Tensor:
    """L2-normalised online-projector features, (B, D) (eval mode)."""
    feat = model.neck(model.backbone(imgs))[0]
    return F.normalize(feat.flatten(1), dim=1)


@torch.no_grad()
def roi_embeddings(backbone, crops: torch.Tensor,
                   batch_size: Optional[int] = None) -> torch.Tensor:
    """L2-normalised GAP of the last backbone stage, (B, C) (eval mode).

    Args:
        backbone (nn.Module): stage-1 online backbone in eval mode.
        crops (Tensor): (B, 3, P, P) crops of one image.
        batch_size (int, optional): split the forward into mini-batches
            (``None``: one batch per image, as the official code; keeps
            results bit-identical to it).
    """
    chunks = [crops] if not batch_size else torch.split(crops, batch_size)
    feats = []
    for c in chunks:
        f = backbone(c)[-1]
        feats.append(F.adaptive_avg_pool2d(f, 1).flatten(1))
    return F.normalize(torch.cat(feats), dim=1)


def first_collate(batch):
    """Collate for batch size 1 (variable-size items)."""
    return batch[0]
