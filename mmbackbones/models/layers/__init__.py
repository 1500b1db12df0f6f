from .checks import (
                     check_choice,
                     check_dcn,
                     check_int,
                     check_layer_cfg,
                     check_plugins,
                     normalize_out_indices,
                     per_stage,
)
from .res_blocks import BasicBlock, Bottleneck, ResLayer

__all__ = [
    'BasicBlock', 'Bottleneck', 'ResLayer', 'check_choice', 'check_dcn', 'check_int',
    'check_layer_cfg', 'check_plugins', 'normalize_out_indices', 'per_stage'
]
