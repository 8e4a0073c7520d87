"""Exports every zoo model at full size to ONNX and compares onnxruntime with dlcore (the issue-19 table).

    python examples/onnx_zoo_agreement.py [--batch 1] [--models resnet18,alexnet]

Prints, per model: input shape, parameters, max |ort - dlcore|, max relative error
(|diff| / max|dlcore|), whether all elements satisfy |diff| <= 1e-5 + 1e-3 |dlcore|, export and run times.
Needs the onnx extra and onnxruntime.
"""
import argparse
import os
import tempfile
import time

import numpy as np

import dlcore
from dlcore import models


def _random_head(vit):
    """ViT zero-initializes its head (torchvision's init): all-zero logits would agree trivially."""
    dlcore.nn.init.normal_(vit.heads.head.weight, std=0.02)
    return vit


ZOO = {
    "lenet5": (lambda: models.lenet5(), (1, 28, 28)),
    "alexnet": (lambda: models.alexnet(), (3, 227, 227)),
    "alexnet_torchvision": (lambda: models.alexnet(variant="torchvision"), (3, 224, 224)),
    "vgg11": (lambda: models.vgg11(), (3, 224, 224)),
    "vgg16": (lambda: models.vgg16(), (3, 224, 224)),
    "vgg11_bn": (lambda: models.vgg11_bn(), (3, 224, 224)),
    "vgg16_bn": (lambda: models.vgg16_bn(), (3, 224, 224)),
    "resnet18": (lambda: models.resnet18(), (3, 224, 224)),
    "resnet34": (lambda: models.resnet34(), (3, 224, 224)),
    "resnet50": (lambda: models.resnet50(), (3, 224, 224)),
    "se_resnet50": (lambda: models.resnet50(se_reduction=16), (3, 224, 224)),
    "mobilenet_v1": (lambda: models.mobilenet_v1(), (3, 224, 224)),
    "mobilenet_v2": (lambda: models.mobilenet_v2(), (3, 224, 224)),
    "mobilenet_v3_small": (lambda: models.mobilenet_v3_small(), (3, 224, 224)),
    "mobilenet_v3_large": (lambda: models.mobilenet_v3_large(), (3, 224, 224)),
    "resnet101": (lambda: models.resnet101(), (3, 224, 224)),
    "resnet152": (lambda: models.resnet152(), (3, 224, 224)),
    "resnext50_32x4d": (lambda: models.resnext50_32x4d(), (3, 224, 224)),
    "wide_resnet50_2": (lambda: models.wide_resnet50_2(), (3, 224, 224)),
    "squeezenet1_0": (lambda: models.squeezenet1_0(), (3, 224, 224)),
    "squeezenet1_1": (lambda: models.squeezenet1_1(), (3, 224, 224)),
    "shufflenet_v2_x0_5": (lambda: models.shufflenet_v2_x0_5(), (3, 224, 224)),
    "shufflenet_v2_x1_0": (lambda: models.shufflenet_v2_x1_0(), (3, 224, 224)),
    "densenet121": (lambda: models.densenet121(), (3, 224, 224)),
    "efficientnet_b0": (lambda: models.efficientnet_b0(), (3, 224, 224)),
    "vit_b_16": (lambda: _random_head(models.vit_b_16()), (3, 224, 224)),
}


def main():
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--models", default=",".join(ZOO))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'model':<20} {'input':>16} {'params':>11} {'max|diff|':>10} {'rel':>9} {'ok':>3} {'export s':>8} "
          f"{'dlcore s':>8} {'ort s':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            build, shape = ZOO[name]
            dlcore.manual_seed(0)
            model = build()
            model.train()(dlcore.Tensor(rng.standard_normal((2,) + shape).astype(np.float32)))  # BN stats
            x = rng.standard_normal((args.batch,) + shape).astype(np.float32)
            path = os.path.join(tmp, name + ".onnx")
            t0 = time.perf_counter()
            dlcore.onnx.export(model, dlcore.Tensor(x), path)
            t1 = time.perf_counter()
            with dlcore.no_grad():
                ours = model.eval()(dlcore.Tensor(x)).numpy()
            t2 = time.perf_counter()
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            theirs = sess.run(None, {"input": x})[0]
            t3 = time.perf_counter()
            diff = np.abs(theirs - ours)
            ok = bool((diff <= 1e-5 + 1e-3 * np.abs(ours)).all())
            print(f"{name:<20} {str((args.batch,) + shape):>16} {model.num_parameters():>11,} {diff.max():>10.2e} "
                  f"{diff.max() / np.abs(ours).max():>9.1e} {'yes' if ok else 'NO':>3} {t1 - t0:>8.1f} "
                  f"{t2 - t1:>8.2f} {t3 - t2:>6.2f}", flush=True)
            del model, sess


if __name__ == "__main__":
    main()
