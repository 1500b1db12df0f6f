from .checks import (
                     check_choice,
                     check_dcn,
                     check_init_cfg,
                     check_int,
                     check_layer_cfg,
                     check_plugins,
                     check_typed,
                     normalize_out_indices,
                     per_stage,
                     validate_args,
                     validating,
)
from .res_blocks import DEFAULT_NORM_CFG, BasicBlock, Bottleneck, ResLayer

__all__ = [
    'DEFAULT_NORM_CFG', 'BasicBlock', 'Bottleneck', 'ResLayer', 'check_choice', 'check_dcn',
    'check_int', 'check_layer_cfg', 'check_plugins', 'normalize_out_indices', 'per_stage',
    'check_init_cfg', 'check_typed', 'validate_args', 'validating'
]
