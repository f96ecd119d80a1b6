"""Grad-CAM and saliency against finite differences; a model without a conv layer is refused."""
import numpy as np

from scratchnet.apps.explain import conv_activation_index, explain
from scratchnet.core.gradcheck import numerical_gradient, rel_error
from scratchnet.core.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from scratchnet.core.model import Sequential
from scratchnet.core.networks import mnist_mlp


def tiny_model():
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 3, 3, rng=rng), ReLU(), MaxPool2D(2, 2), Flatten(),
                        Dense(3 * 4 * 4, 4, rng=rng)], input_shape=(1, 10, 10)).astype(np.float64)
    # positive conv outputs: no ReLU kinks or pooling ties for finite differences to trip on
    model.layers[0].params["b"][:] = [5.0, 4.0, 6.0]
    return model, rng.random((10, 10))


def score_from_activations(model, A, target):
    """The class score computed from the conv activations onwards (layers after Grad-CAM's)."""
    h = A[None]
    for layer in model.layers[conv_activation_index(model) + 1:]:
        h = layer.forward(h)
    return h[0, target]


def test_gradcam_weights_match_finite_differences():
    model, image = tiny_model()
    e = explain(model, image, target=2)
    A = e.activations.copy()
    num = numerical_gradient(lambda: score_from_activations(model, A, 2), A)
    assert rel_error(e.activation_grad, num) < 1e-7
    np.testing.assert_allclose(e.alpha, num.mean(axis=(1, 2)), rtol=1e-6, atol=1e-10)
    cam = np.maximum(np.tensordot(num.mean(axis=(1, 2)), A, axes=1), 0)
    np.testing.assert_allclose(e.gradcam[1:-1, 1:-1], cam / cam.max(), rtol=1e-5, atol=1e-8)


def test_saliency_is_the_input_gradient_magnitude():
    model, image = tiny_model()
    e = explain(model, image, target=1)
    x = image[None, None].copy()
    num = numerical_gradient(lambda: model.forward(x)[0, 1], x)[0, 0]
    assert rel_error(e.saliency, np.abs(num) / np.abs(num).max()) < 1e-6
    assert e.target == 1 and abs(e.probabilities.sum() - 1) < 1e-12


def test_explain_defaults_to_the_predicted_class():
    model, image = tiny_model()
    e = explain(model, image)
    assert e.target == int(np.argmax(model.forward(image[None, None])[0]))
    assert e.gradcam.shape == e.saliency.shape == (10, 10)


def test_mlp_has_no_conv_layer_to_explain():
    import pytest

    from scratchnet.errors import ScratchnetError
    with pytest.raises(ScratchnetError, match="Conv2D"):
        explain(mnist_mlp(), np.zeros((28, 28)))
