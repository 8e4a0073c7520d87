"""Deployment: post-training int8 quantization and XNOR-Net binarization.

int8 (static):
    qmodel = dlcore.quantization.quantize_static(model, calibration_loader)
    # or the steps: prepare(model) -> calibrate(prepared, loader) -> convert(prepared)
    dlcore.save(qmodel.state_dict(), "q.npz")
    qmodel = dlcore.quantization.QuantizedSequential.from_state_dict(dlcore.load("q.npz"))

Binary:
    model = nn.Sequential(..., nn.BinaryConv2d(...), ...)   # train with any optimizer (STE)
    packed = dlcore.quantization.binarize(model)           # XNOR + popcount inference
"""
from .binary import binarize
from .observers import (MinMaxObserver, PercentileObserver, dequantize_u8, qparams_u8, quantize_u8,
                        quantize_weight_per_channel)
from .quantized import PreparedModel, QuantizedSequential, calibrate, convert, prepare, quantize_static

__all__ = ["MinMaxObserver", "PercentileObserver", "PreparedModel", "QuantizedSequential", "binarize", "calibrate",
           "convert", "dequantize_u8", "prepare", "qparams_u8", "quantize_static", "quantize_u8",
           "quantize_weight_per_channel"]
