# Copyright (c) mmscrl contributors. All rights reserved.
"""Evaluation of pre-trained backbones without fine-tuning: weighted kNN
classification of frozen features, at image and at box level."""
from .box_knn import (box_knn_metrics, dominant_labels, extract_box_features,
                      load_coco_detection, load_images, roi_box_features)
from .checkpoint_eval import (build_backbone, evaluate_backbone,
                              load_detection_set)
from .knn import knn_accuracy, knn_scores, topk_accuracy
from .voc_coco_style_metric import VOCCocoStyleMetric

__all__ = [
    'knn_scores', 'knn_accuracy', 'topk_accuracy', 'load_coco_detection',
    'load_images', 'dominant_labels', 'roi_box_features',
    'extract_box_features', 'box_knn_metrics', 'build_backbone',
    'load_detection_set', 'evaluate_backbone', 'VOCCocoStyleMetric'
]
