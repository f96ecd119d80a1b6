"""Output sizes of sliding windows, shared by the layers and both kernel back ends."""


def conv_output_size(size, kernel, stride, pad):
    """Output length of a 'valid' sliding window over a padded input:

        out = floor((size + 2*pad - kernel) / stride) + 1

    Used for convolutions (pad >= 0) and pooling (pad = 0, windows that do not fit are dropped,
    Keras' 'valid')."""
    return (size + 2 * pad - kernel) // stride + 1
