"""Why did the network say "7"? Grad-CAM and input-gradient saliency, from the framework's
own backward pass (no autograd: the same `backward` methods training uses).

- saliency(x)   = |d score_c / d x|: how much each input pixel can move the class score.
- Grad-CAM(x)   = ReLU(sum_f alpha_f * A_f), alpha_f = mean over positions of d score_c / d A_f,
                  A = the conv layer's (post-ReLU) feature maps: where the conv features that
                  raise the class score are active.
score_c is the class's logit (before softmax), as in the Grad-CAM paper.
"""
from dataclasses import dataclass

import numpy as np

from ..core import kernels
from ..core.layers import Conv2D, ReLU
from ..core.losses import softmax
from ..data.preprocess import load_image, to_grey
from ..errors import ScratchnetError


@dataclass
class Explanation:
    probabilities: np.ndarray   # (10,)
    target: int                 # the class explained
    saliency: np.ndarray        # (H, W), scaled to [0, 1]
    gradcam: np.ndarray         # (H, W), scaled to [0, 1], aligned with the input
    alpha: np.ndarray           # (F,) Grad-CAM channel weights
    activations: np.ndarray     # (F, OH, OW) the explained conv layer's feature maps
    activation_grad: np.ndarray  # (F, OH, OW) d score / d activations


def conv_activation_index(model):
    """Index of the layer whose output Grad-CAM uses: the ReLU after the last Conv2D."""
    last = max((i for i, l in enumerate(model.layers) if isinstance(l, Conv2D)), default=None)
    if last is None:
        raise ScratchnetError("Grad-CAM needs a model with a Conv2D layer; this one has none")
    after = last + 1
    return after if after < len(model.layers) and isinstance(model.layers[after], ReLU) else last


def explain(model, image, target=None):
    """image: (H, W) float in [0, 1] -> Explanation for `target` (default: the prediction)."""
    x = np.asarray(image, dtype=model.dtype)[None, None]          # (1, 1, H, W)
    outputs = []
    h = x
    for layer in model.layers:                                     # layer by layer, unfused:
        h = layer.forward(h)                                       # we need the activations
        outputs.append(h)
    probs = softmax(outputs[-1])[0]
    c = int(probs.argmax()) if target is None else int(target)
    grad = np.zeros_like(outputs[-1])
    grad[0, c] = 1.0                                               # d score_c / d logits
    input_grads = [None] * len(model.layers)                       # d score / d (input of layer i)
    for i in range(len(model.layers) - 1, -1, -1):
        grad = model.layers[i].backward(grad, need_dx=True)
        input_grads[i] = grad
    k = conv_activation_index(model)
    A, dA = outputs[k][0], input_grads[k + 1][0]                   # (F, OH, OW) each
    alpha = dA.mean(axis=(1, 2))                                   # (F,)
    cam = np.maximum(np.tensordot(alpha, A, axes=1), 0)            # (OH, OW)
    return Explanation(probs, c, _unit(np.abs(input_grads[0][0, 0])),
                       _unit(_to_input_grid(cam, image.shape)), alpha, A, dA)


def _to_input_grid(cam, shape):
    """Place an (OH, OW) map of a 'valid' conv on the (H, W) input grid: each output sits at
    the centre of its receptive field, so pad the border symmetrically by repetition."""
    ph, pw = shape[0] - cam.shape[0], shape[1] - cam.shape[1]
    return np.pad(cam, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)), mode="edge")


def _unit(a):
    top = a.max()
    return a / top if top > 0 else a


def conv_feature_maps(model, image):
    """The first conv layer's post-ReLU feature maps of one image: (F, OH, OW)."""
    h = np.asarray(image, dtype=model.dtype)[None, None]
    for i in range(conv_activation_index(model) + 1):
        h = model.layers[i].forward(h)
    return h[0]


def explain_file(model, path, seen, out, backend="reference"):
    """Write the explanation figure (apps/plots.explanation_png) of the picture at `path`,
    whose 28x28 network input is `seen`, to `out`."""
    from .plots import explanation_png   # matplotlib only when a figure is asked for
    with kernels.using(backend):
        explanation = explain(model, seen)
    explanation_png(to_grey(load_image(path)), seen, explanation, out)
