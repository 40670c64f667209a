# Copyright (c) mmscrl contributors. All rights reserved.
from .bbox import (bbox_overlaps, bbox_xywh_to_xyxy, box_intersection,
                   box_pairs_to_rois, check_axis_aligned, clip_boxes,
                   crop_resize_homography, flip_homography, is_flipped,
                   map_boxes, view_region)

__all__ = [
    'bbox_overlaps', 'bbox_xywh_to_xyxy', 'box_intersection',
    'box_pairs_to_rois', 'check_axis_aligned', 'clip_boxes',
    'crop_resize_homography', 'flip_homography', 'is_flipped', 'map_boxes',
    'view_region'
]
