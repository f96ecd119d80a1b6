"""Data: everything between files on disk and the network's float input.

    idx.py         the IDX file format (MNIST's), read and written directly
    mnist.py       find, download, verify and load MNIST; uint8 -> network input
    augment.py     random per-image distortions for training (NumPy reference ops)
    augment_jit.py their Numba twins
    preprocess.py  any real-world picture -> a 28x28 MNIST-style digit
    strokes.py     stroke width: skeletons, the pen's width, bringing it to MNIST's
    topology.py    how a drawing is put together: pieces, holes, stroke ends, junctions
    topology_jit.py its Numba twin
    nondigits.py   pictures for the "not a digit" detector to learn from
    folders.py     folders of labelled digit PNGs (extra training data)

May use the framework core (scratchnet.core); never the applications (scratchnet.apps).
"""
