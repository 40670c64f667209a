# Copyright (c) mmscrl contributors. All rights reserved.
"""Image loading that lets the multi-view transform decode once, small.

:class:`LoadImageForViews` reads a JPEG's bytes and header but leaves the
decoding to :class:`MultiViewWithGeometry`, which knows, once it has drawn
every view's crop, whether every view will be downsampled at least 2x; the
JPEG is then decoded at 1/2, 1/4 or 1/8 of its size by libjpeg-turbo's DCT
scaling (OpenCV's ``IMREAD_REDUCED_COLOR_*``), which costs a fraction of a
full decode. The views' recorded geometry stays in original pixels: the
crops are resampled from the reduced image with the scale folded in.
"""
import io
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio

from mmscrl.registry import TRANSFORMS

__all__ = ['LoadImageForViews', 'decode_deferred', 'REDUCED_FLAGS']

#: DCT scaling factor -> OpenCV decode flag
REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def _deferrable_jpeg_size(data: bytes) -> Optional[tuple]:
    """``(h, w)`` of an RGB or greyscale JPEG that OpenCV decodes as stored
    (no EXIF rotation), else None (decoded at once, as usual)."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != 'JPEG' or im.mode not in ('RGB', 'L'):
                return None
            if im.getexif().get(0x0112, 1) not in (None, 1):
                return None  # OpenCV applies the EXIF orientation
            w, h = im.size
    except Exception:  # noqa: BLE001  (anything odd: decode as usual)
        return None
    return (h, w) if h > 0 and w > 0 else None


def decode_deferred(results: dict, reduction: int = 1) -> np.ndarray:
    """Decode the JPEG that :class:`LoadImageForViews` left in ``results``.

    Args:
        results (dict): With ``img_bytes``, ``img_path`` and ``ori_shape``;
            ``img_bytes`` is removed.
        reduction (int): 1 (full size, exactly ``LoadImageFromFile``'s
            ``cv2.imdecode(..., IMREAD_COLOR)``), 2, 4 or 8 (DCT scaling).

    Returns:
        ndarray: BGR uint8 image of ``ceil(h / reduction) x
        ceil(w / reduction)`` pixels.
    """
    from mmscrl.compat import ImageLoadError
    data = results.pop('img_bytes')
    buf = np.frombuffer(data, np.uint8)
    h, w = results['ori_shape'][:2]
    img = cv2.imdecode(buf, REDUCED_FLAGS[reduction])
    expect = (-(-h // reduction), -(-w // reduction))
    if img is not None and img.shape[:2] != expect and reduction > 1:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # unexpected: full size
        reduction = 1
    if img is None or img.shape[:2] != (h, w) and reduction == 1:
        raise ImageLoadError(
            f'cannot load image {results.get("img_path")} ({len(data)} '
            f'bytes): OpenCV could not decode the {w}x{h} JPEG its header '
            'announces. Delete or replace the file.')
    results['img_reduction'] = reduction
    return img


@TRANSFORMS.register_module()
class LoadImageForViews(LoadImageFromFile):
    """mmcv ``LoadImageFromFile`` whose JPEG decoding waits for the views.

    Same arguments and, for everything but plain JPEGs, the same behaviour.
    For an RGB or greyscale JPEG without EXIF rotation, loaded as a ``color``
    uint8 image with the cv2 backend (the pre-training configs), it only
    reads the bytes and the header:

    **Added keys:** ``img_bytes`` (the file), ``img_shape`` and
    ``ori_shape`` (``(h, w)``) -- no ``img``.

    :class:`MultiViewWithGeometry` then decodes once: at full size exactly as
    ``LoadImageFromFile`` would (reference ops, or a view not downsampled at
    least 2x), or at 1/2, 1/4 or 1/8 size (fast ops,
    ``reduced_decode=True``, every view downsampled at least that much).
    Any other transform that needs ``img`` must come after the multi-view
    transform, or use ``LoadImageFromFile`` instead.

    Args:
        defer (bool): Defer the decoding as above. Defaults to True; False
            is ``LoadImageFromFile``.
        **kwargs: ``LoadImageFromFile``'s arguments.
    """

    def __init__(self, defer: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.defer = defer

    def transform(self, results: dict) -> Optional[dict]:
        if (not self.defer or self.to_float32 or self.color_type != 'color'
                or self.imdecode_backend != 'cv2'
                or self.file_client_args is not None):
            return super().transform(results)
        try:
            data = fileio.get(results['img_path'],
                              backend_args=self.backend_args)
        except Exception:  # noqa: BLE001  (named by the usual path)
            return super().transform(results)
        shape = _deferrable_jpeg_size(data)
        if shape is None:  # decode now, from the bytes already read
            try:
                img = mmcv.imfrombytes(data, flag=self.color_type,
                                       backend=self.imdecode_backend)
            except Exception:  # noqa: BLE001  (named by the usual path)
                img = None
            if img is None:
                return super().transform(results)
            results['img'] = img
            results['img_shape'] = img.shape[:2]
            results['ori_shape'] = img.shape[:2]
            return results
        results['img_bytes'] = data
        results['img_shape'] = shape
        results['ori_shape'] = shape
        return results

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', defer={self.defer})'
