# The canonical SCRL pre-training run (ResNet-50, ImageNet-1k, 200 epochs,
# 8 GPUs x 256):
#   tools/dist_train.sh configs/scrl_r50_imagenet.py 8
# See configs/scrl/README.md for the recipe, deviations and mmdet transfer.
_base_ = ['./scrl/scrl_resnet50_8xb256-lars-coslr-200e_in1k.py']
