"""Applications built on the framework: what the command-line scripts and the demo do.

    inference.py   pictures -> predictions (predict.py and the demo share it)
    openset.py     "not a digit": the detector and its threshold
    recipes.py     the reference and --augment training recipes
    report.py      the evaluation report train.py writes (metrics.py, plots.py)
    explain.py     Grad-CAM and saliency for one prediction
    learning.py    fine-tuning on the demo's corrections
    server.py      the demo's web server (web/index.html, its page; web/scratchnet.js, the
                   network in the page when there is no server)
    web_export.py  the demo as a static folder any host can serve
    onnx_export.py the network as ONNX

May use scratchnet.core and scratchnet.data.
"""
