"""Training fast paths for tools/train.py: bf16 autocast on CPU, channels_last, compile and
mmengine's efficient conv-BN evaluation.

* :class:`CPUAmpOptimWrapper`: mmengine's ``AmpOptimWrapper`` needs a CUDA GPU. On CPU this
  wrapper autocasts forward passes to bf16 (no loss scaling is needed for bf16). It refuses a CPU
  without native bf16 (``avx512_bf16``/``amx_bf16``), where bf16 is emulated and several times
  slower, unless built with ``force=True``.
* :class:`ChannelsLastHook`: model weights and the backbone's input in channels-last layout.
* :func:`apply_fast_paths`: the config changes behind ``--amp``, ``--channels-last``,
  ``--compile`` and ``--efficient-conv-bn-eval``.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from ..config import ConfigError
from ..models.layers.checks import check_choice
from ..registry import HOOKS
from ..utils.hardware import cpu_has_native_bf16, hardware_summary


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward passes run under ``torch.autocast('cpu', bfloat16)``.

    Args:
        enabled: False: fp32 forward passes whatever the CPU (the fp32 baseline of a config that
            ships bf16: ``--cfg-options optim_wrapper.enabled=False``), as ``torch.autocast``'s
            ``enabled``.
        force: Use bf16 autocast even on a CPU without native bf16 (emulated: slow); the same
            as ``if_emulated='bf16'``.
        if_emulated: What to do on a CPU without native bf16: ``'error'`` (refuse, the default
            for ``--amp``), ``'fp32'`` (train in fp32 and log why: what a config that ships
            with bf16 uses, so it runs everywhere at each CPU's fastest precision) or
            ``'bf16'`` (emulated bf16).
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).

    Example (a config that trains in bf16 where the CPU has it, fp32 elsewhere)::

        optim_wrapper = dict(type='CPUAmpOptimWrapper', if_emulated='fp32',
                             optimizer=dict(type='AdamW', lr=1e-3))
    """

    def __init__(self, enabled: bool = True, force: bool = False, if_emulated: str = 'error',
                 **kwargs) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f'enabled must be True or False, got {enabled!r}.')
        check_choice('if_emulated', if_emulated, ('error', 'fp32', 'bf16'))
        #: Whether the forward passes autocast to bf16.
        self.bf16 = enabled
        if enabled and not force and if_emulated != 'bf16' and not cpu_has_native_bf16():
            if if_emulated == 'error':
                _refuse_emulated_bf16()
            self.bf16 = False
            from mmengine.logging import print_log
            print_log('CPUAmpOptimWrapper: training in fp32, not bf16: this CPU has no native '
                      f'bf16 ({hardware_summary()}); if_emulated=\'fp32\'.', logger='current',
                      level=logging.WARNING)
        super().__init__(**kwargs)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16,
                                                          enabled=self.bf16):
            yield


def _refuse_emulated_bf16() -> None:
    if not cpu_has_native_bf16():
        raise ConfigError(
            'CPU mixed precision (bf16 autocast) asked for, but this CPU has no native bf16 '
            f'({hardware_summary()}): it would be emulated and several times slower than fp32. '
            'Train in fp32 (drop --amp), or force it with --cfg-options optim_wrapper.force=True.')


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Puts the model's weights, and the input of its backbone (or of the model), in
    channels-last layout before training/validation/testing."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._handle = None

    def _apply(self, runner) -> None:
        if self._handle is not None:
            return
        model = runner.model
        model = getattr(model, 'module', model)  # DDP
        # per conv: a video model's 3D trunk goes channels_last_3d, its 2D neck and head
        # channels_last (Module.to refuses channels_last_3d on 4D weights)
        for m in model.modules():
            if isinstance(m, nn.Conv3d):
                m.to(memory_format=torch.channels_last_3d)
            elif isinstance(m, nn.Conv2d):
                m.to(memory_format=torch.channels_last)
        target = getattr(model, 'backbone', model)
        formats = {4: torch.channels_last, 5: torch.channels_last_3d}

        def to_channels_last(module, args):
            x = args[0]
            if isinstance(x, torch.Tensor) and x.dim() in formats:
                return (x.contiguous(memory_format=formats[x.dim()]), *args[1:])
            return None

        self._handle = target.register_forward_pre_hook(to_channels_last)

    def before_train(self, runner) -> None:
        self._apply(runner)

    def before_val(self, runner) -> None:
        self._apply(runner)

    def before_test(self, runner) -> None:
        self._apply(runner)


def apply_fast_paths(cfg: Config, amp: bool = False, channels_last: bool = False,
                     compile: bool = False, efficient_conv_bn_eval: bool = False) -> list[str]:
    """Change ``cfg`` for the requested fast paths; return one line per change, saying why.

    Args:
        cfg: The run's config, changed in place.
        amp: Mixed precision: mmengine's ``AmpOptimWrapper`` on a CUDA machine,
            :class:`CPUAmpOptimWrapper` (bf16) otherwise.
        channels_last: Add :class:`ChannelsLastHook`.
        compile: mmengine's ``compile`` (``torch.compile`` of the train step).
        efficient_conv_bn_eval: mmengine's efficient conv-BN evaluation for the backbone: a
            BN in eval mode (frozen stages, ``norm_eval=True``) is applied to its conv's weight
            instead of to the activations, which saves the memory of the conv outputs.
    """
    notes = []
    if amp:
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            # CPUAmpOptimWrapper's, if the config has it
            for key in ('enabled', 'force', 'if_emulated'):
                cfg.optim_wrapper.pop(key, None)
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
            notes.append('--amp: AmpOptimWrapper (CUDA fp16 autocast, dynamic loss scale)')
        else:
            if not cfg.optim_wrapper.get('force') and \
                    cfg.optim_wrapper.get('if_emulated', 'error') == 'error':
                _refuse_emulated_bf16()
            cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
            cfg.optim_wrapper.pop('enabled', None)  # --amp asks for bf16
            notes.append(f'--amp: CPUAmpOptimWrapper (bf16 autocast on CPU; {hardware_summary()})')
    if channels_last:
        hooks = list(cfg.get('custom_hooks') or [])
        if not any(h.get('type') in ('ChannelsLastHook', 'mmbackbones.ChannelsLastHook')
                   for h in hooks):
            # scoped, so that configs of mmdet/mmseg/mmaction (another default scope) find it
            hooks.append(dict(type='mmbackbones.ChannelsLastHook'))
        cfg.custom_hooks = hooks
        notes.append('--channels-last: ChannelsLastHook (weights and inputs channels-last)')
    if compile:
        cfg.compile = True
        notes.append('--compile: torch.compile of the train step (mmengine `compile`)')
    if efficient_conv_bn_eval:
        cfg.efficient_conv_bn_eval = ['backbone']
        notes.append('--efficient-conv-bn-eval: mmengine efficient conv-BN eval in the backbone '
                     '(acts where BN is in eval mode: frozen stages, norm_eval=True)')
        backbone = (cfg.get('model') or {}).get('backbone') or {}
        frozen = backbone.get('frozen_stages', -1)
        if not backbone.get('norm_eval', False) and not (isinstance(frozen, int) and frozen >= 0):
            notes.append('--efficient-conv-bn-eval: this config trains every BN of its backbone '
                         '(norm_eval=False, no frozen stages), so training steps are unchanged; '
                         'only evaluation passes use it')
    return notes
