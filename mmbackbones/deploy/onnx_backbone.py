"""An exported ONNX backbone, run by onnxruntime, usable where the PyTorch backbone was."""
from __future__ import annotations

import json

import torch
import torch.nn as nn

from ..models.backbones.base import FeatureSpec


class ExportedBackbone(nn.Module):
    """A backbone run by another runtime from a file that ``tools/deployment/export.py`` wrote:
    it publishes the ``out_channels``/``out_strides``/``output_shape()`` stored in the file's
    metadata (:func:`~mmbackbones.deploy.export.backbone_metadata`)."""

    def _publish(self, path: str, meta: dict[str, str], n_out: int) -> None:
        self.path = path
        self.metadata = dict(meta)
        channels = json.loads(meta['out_channels']) if 'out_channels' in meta else None
        strides = json.loads(meta['out_strides']) if 'out_strides' in meta else None
        if channels is not None and len(channels) != n_out:
            raise ValueError(f'{path}: metadata out_channels={channels} names {len(channels)} '
                             f'outputs, the model has {n_out}.')
        self.out_channels = tuple(channels) if channels is not None else None
        self.out_strides = tuple(strides) if strides is not None else None
        shape = meta.get('example_input_shape')
        self.example_input_shape = tuple(json.loads(shape)) if shape else None

    def output_shape(self) -> list[FeatureSpec]:
        if self.out_channels is None or self.out_strides is None:
            raise AttributeError(f'{self.path} carries no out_channels/out_strides metadata; '
                                 'export it with tools/deployment/export.py.')
        return [FeatureSpec(c, s) for c, s in zip(self.out_channels, self.out_strides)]


class OnnxBackbone(ExportedBackbone):
    """Runs an ONNX file written by ``tools/deployment/export.py`` with onnxruntime.

    It takes the same input and returns the same tuple as the backbone it was exported from, and
    publishes the same ``out_channels``/``out_strides``/``output_shape()`` (stored in the ONNX
    model's ``metadata_props`` at export), so necks such as ``FPN.from_backbone`` accept it.
    Inference only: it has no parameters and no gradients.

    Args:
        path: The ``.onnx`` file.
        providers: onnxruntime execution providers (default: CUDA when available, else CPU).
        threads: Intra-op threads of onnxruntime (default: ``torch.get_num_threads()``).

    Example:
        >>> backbone = OnnxBackbone('resnet50.onnx')
        >>> neck = FPN.from_backbone(backbone, out_channels=256, num_outs=5)
        >>> feats = neck(backbone(torch.rand(1, 3, 224, 224)))
    """

    def __init__(self, path: str, providers: list[str] | None = None,
                 threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError('OnnxBackbone needs onnxruntime (pip install onnxruntime, or pip '
                              'install -e .[deploy])') from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ('CUDAExecutionProvider', 'CPUExecutionProvider')
                         if p in available]
        self.session = ort.InferenceSession(path, sess_options=options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self._publish(path, self.session.get_modelmeta().custom_metadata_map,
                      len(self.session.get_outputs()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        array = x.detach().to('cpu', torch.float32).contiguous().numpy()
        outs = self.session.run(None, {self.input_name: array})
        return tuple(torch.from_numpy(o).to(x.device) for o in outs)
