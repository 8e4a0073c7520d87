"""Deployment: post-training int8 quantization and XNOR-Net binarization.

int8 (static):
    qmodel = dlcore.quantization.quantize_static(model, calibration_loader)
    # or the steps: prepare(model) -> calibrate(prepared, loader) -> convert(prepared)
    dlcore.save(qmodel.state_dict(), "q.npz")
    qmodel = dlcore.quantization.QuantizedSequential.from_state_dict(dlcore.load("q.npz"))
    # any Module with a forward() (not a Sequential): its Conv2d / Linear layers become int8 ones
    qnet = dlcore.quantization.quantize_static(Net(), calibration_loader)
    qnet = dlcore.quantization.load_quantized(Net(), dlcore.load(path))   # after dlcore.save(qnet.state_dict(), path)

Binary:
    model = nn.Sequential(..., nn.BinaryConv2d(...), ...)   # train with any optimizer (STE)
    packed = dlcore.quantization.binarize(model)           # XNOR + popcount inference
"""
from .binary import binarize
from .observers import (MinMaxObserver, PercentileObserver, dequantize_u8, qparams_u8, quantize_u8,
                        quantize_weight_per_channel)
from .modules import PreparedModule, QuantizedConv2d, QuantizedLinear, load_quantized
from .quantized import PreparedModel, QuantizedSequential, calibrate, convert, prepare, quantize_static

__all__ = ["MinMaxObserver", "PercentileObserver", "PreparedModel", "PreparedModule", "QuantizedConv2d",
           "QuantizedLinear", "QuantizedSequential", "binarize", "calibrate", "convert", "dequantize_u8",
           "load_quantized", "prepare", "qparams_u8", "quantize_static", "quantize_u8", "quantize_weight_per_channel"]
