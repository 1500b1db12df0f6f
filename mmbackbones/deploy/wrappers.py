"""The modules :func:`~mmbackbones.deploy.optimize` and int8 quantization hand back: each wraps
the model it runs and reads the attributes it lacks (``out_channels``, ``out_strides``,
``output_shape``, ...) from it, so necks and users see the backbone's contract."""
from __future__ import annotations

import torch
import torch.nn as nn


class _Wrapper(nn.Module):
    """A module around ``self.model`` that reads the attributes it lacks (``out_channels``,
    ``out_strides``, ``output_shape``, ...) from it."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules['model'], name)


class InferenceModel(_Wrapper):
    """Wraps an optimized model: casts the input to the model's dtype/memory format and the
    outputs back to the input's dtype. Attributes it lacks (``out_channels``, ``out_strides``,
    ``output_shape``, ...) are read from the wrapped model."""

    def __init__(self, model: nn.Module, dtype: torch.dtype,
                 memory_format: torch.memory_format | None) -> None:
        super().__init__()
        self.model = model
        self.dtype = dtype
        self.memory_format = memory_format

    def forward(self, x: torch.Tensor):
        in_dtype = x.dtype
        x = x.to(self.dtype)
        if self.memory_format is not None:
            x = x.contiguous(memory_format=self.memory_format)
        out = self.model(x)
        if isinstance(out, (tuple, list)):
            return type(out)(o.to(in_dtype) for o in out)
        return out.to(in_dtype)
