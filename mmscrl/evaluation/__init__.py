# Copyright (c) mmscrl contributors. All rights reserved.
"""Evaluation of pre-trained backbones without fine-tuning: weighted kNN
classification of frozen features, at image and at box level."""
from .box_knn import (box_knn_metrics, dominant_labels, extract_box_features,
                      load_coco_detection, load_images, roi_box_features)
from .agreement import average_ranks, mean_std, spearman_rank_correlation
from .box_probe import (box_probe_metrics, fit_linear_probe,
                        linear_probe_accuracy)
from .checkpoint_eval import (MonitorSpec, ResNetLevels, build_backbone,
                              evaluate_backbone, evaluate_monitors,
                              load_detection_set, parse_monitor)
from .knn import knn_accuracy, knn_scores, topk_accuracy
from .voc_coco_style_metric import VOCCocoStyleMetric

__all__ = [
    'knn_scores', 'knn_accuracy', 'topk_accuracy', 'load_coco_detection',
    'load_images', 'dominant_labels', 'roi_box_features',
    'extract_box_features', 'box_knn_metrics', 'build_backbone',
    'load_detection_set', 'evaluate_backbone', 'VOCCocoStyleMetric',
    'ResNetLevels', 'MonitorSpec', 'parse_monitor', 'evaluate_monitors',
    'fit_linear_probe', 'linear_probe_accuracy', 'box_probe_metrics',
    'average_ranks', 'spearman_rank_correlation', 'mean_std'
]
