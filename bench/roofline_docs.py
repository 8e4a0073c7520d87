"""The roofline picture of docs/: the report's own code (dlcore.bench gemm/conv/eltwise run(), report.py),
with the GEMM list cut to square 128-1024 plus LeNet's and AlexNet's FC layers at minibatch 64 and the
conv list to --quick, so it finishes on a shared 2-core machine.

    PYTHONPATH=python python bench/roofline_docs.py THREADS out.json roofline.png
"""
import sys
import types

import dlcore
from dlcore.bench import common, conv, eltwise, gemm, report

common.SETTLE_SECONDS = 0.05
dlcore.set_num_threads(int(sys.argv[1]))
args = types.SimpleNamespace(quick=True, repeats=3, backend="auto", tune=False)
def gemm_cases(quick):
    for n in (128, 256, 512, 1024):
        yield {"name": f"square {n}", "m": n, "n": n, "k": n, "trans_b": False}
    for name, n, k in (("lenet:ip1", 500, 800), ("alexnet:fc7", 4096, 4096), ("alexnet:fc8", 1000, 4096)):
        yield {"name": name, "m": 64, "n": n, "k": k, "trans_b": True}
gemm.cases = gemm_cases
print(common.machine_header(dlcore.get_num_threads()))
results = {"gemm": gemm.run(args), "conv": conv.run(args), "eltwise": eltwise.run(args)}
report.write_json(sys.argv[2], results, dlcore.get_num_threads(), ["(docs roofline script)"])
report.write_roofline(sys.argv[3], results, dlcore.get_num_threads())
