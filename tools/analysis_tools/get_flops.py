# Copyright (c) mmscrl contributors. All rights reserved.
"""FLOPs and parameters of a config's model (what transfers: the backbone).

    python tools/analysis_tools/get_flops.py CONFIG [--shape 224 224]
        [--part backbone|backbone+neck] [--cfg-options k=v ...]

The self-supervised algorithms' ``forward`` needs several augmented views
and data samples, so, like mmpretrain's ``get_flops.py`` for such models,
the FLOPs are counted for the backbone (optionally with the neck) on one
``1 x 3 x H x W`` image with
:func:`mmengine.analysis.get_model_complexity_info`;
the parameter count of the whole model (both encoders, heads, queues
excluded) is reported as well. The model is built with
:func:`mmscrl.apis.get_model` (no dataset needed).
"""

from mmscrl.utils.cli import add_cfg_options, add_config_arg, make_parser


def parse_args(argv=None):
    parser = make_parser('FLOPs/params of the backbone of a config\'s model.')
    add_config_arg(parser, 'config file path (or model name from '
                   'mmscrl.apis.list_models())')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=[224, 224],
        help='input image size: one value (square) or H W')
    parser.add_argument(
        '--part', choices=['backbone', 'backbone+neck'], default='backbone',
        help='what to count: the backbone, or the backbone and the neck '
        '(projector) on its output')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def _part(backbone, neck=None):
    """backbone (+ neck) as one module for the FLOP counter (torch is
    imported here, not for ``--help``)."""
    import torch

    class _Part(torch.nn.Module):

        def __init__(self, backbone, neck=None):
            super().__init__()
            self.backbone = backbone
            self.neck = neck

        def forward(self, x):
            out = self.backbone(x)
            if self.neck is not None:
                out = self.neck(out)
            return out

    return _Part(backbone, neck)


def count(config, shape=(224, 224), part='backbone', cfg_options=None):
    """Return a dict with ``flops``, ``params`` (of the part) and
    ``model_params`` (whole model), plus their human-readable strings."""
    import torch
    from mmengine.analysis import get_model_complexity_info

    from mmscrl.apis import get_model
    if len(shape) == 1:
        shape = (shape[0], shape[0])
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f'--shape takes 1 or 2 positive ints, got {shape}')
    model = get_model(config, cfg_options=cfg_options)
    if not hasattr(model, 'backbone'):
        raise ValueError(f'{config}: model {type(model).__name__} has no '
                         '`backbone` to count')
    neck = getattr(model, 'neck', None) if part == 'backbone+neck' else None
    if part == 'backbone+neck' and neck is None:
        raise ValueError(f'{config}: model {type(model).__name__} has no '
                         '`neck`; use --part backbone')
    target = _part(model.backbone, neck).eval()
    with torch.no_grad():
        info = get_model_complexity_info(
            target, input_shape=(3, *shape), show_table=False,
            show_arch=False)
    model_params = sum(p.numel() for p in model.parameters())
    return dict(flops=info['flops'], flops_str=info['flops_str'],
                params=info['params'], params_str=info['params_str'],
                model_params=model_params, shape=tuple(shape), part=part,
                model=type(model).__name__)


def main(argv=None):
    args = parse_args(argv)
    res = count(args.config, args.shape, args.part, args.cfg_options)
    line = '=' * 40
    print(f'{line}\nModel: {res["model"]} ({args.config})\n'
          f'Counted: {res["part"]}, input 1x3x{res["shape"][0]}x'
          f'{res["shape"][1]}\nFlops: {res["flops_str"]}\n'
          f'Params ({res["part"]}): {res["params_str"]}\n'
          f'Params (whole model, all encoders): '
          f'{res["model_params"] / 1e6:.2f} M\n{line}')
    return res


if __name__ == '__main__':
    main()
