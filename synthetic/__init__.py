"""Synthetic pictures that tests and benchmarks share (not part of the installed package).

    userstyle.py  MNIST digits rendered as people's pictures of them (paper, photos, canvases)
"""
