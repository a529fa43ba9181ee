"""The torchvision weights, read without torch and ported to Keras, must still recognise ImageNet photos."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import skimage.data

from maskwatch.training.mobilenet import imagenet_preprocess, load_imagenet_weights, mobilenet_v2
from maskwatch.training.model import base_of, build_classifier, unfreeze_top
from maskwatch.training.weights import load_state_dict, weights_path
from maskwatch.vision.crops import resize


@pytest.fixture(scope="module")
def imagenet_model():
    model = mobilenet_v2(include_top=True)
    assert load_imagenet_weights(model) == model.count_params() == 3_538_984
    return model


def center_crop(image: np.ndarray) -> np.ndarray:
    """torchvision's evaluation transform: shorter side to 256, centre 224 crop."""
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return resize(resize(image[y:y + side, x:x + side], 256)[16:240, 16:240], 224)


@pytest.mark.parametrize(("photo", "classes"), [
    ("chelsea", range(281, 286)),  # a tabby cat: tabby, tiger cat, Persian, Siamese, Egyptian cat
    ("coffee", [967, 968, 504]),  # espresso, cup, coffee mug
])
def test_port_recognises_imagenet_photos(imagenet_model, photo, classes):
    image = center_crop(getattr(skimage.data, photo)())
    probs = imagenet_model.predict(imagenet_preprocess(image[None]), verbose=0)[0]
    assert int(probs.argmax()) in classes
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)


def test_space_shuttle_is_among_the_top_three_for_the_rocket_photo(imagenet_model):
    probs = imagenet_model.predict(imagenet_preprocess(center_crop(skimage.data.rocket())[None]), verbose=0)[0]
    assert 812 in np.argsort(probs)[-3:]


def test_state_dict_is_read_without_torch():
    state = load_state_dict()
    assert weights_path().name == "mobilenet_v2-b0353104.pth"
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["classifier.1.weight"].shape == (1000, 1280)
    assert all(v.dtype in (np.float32, np.int64) for v in state.values())


def test_not_a_weights_file_is_refused(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x80\x02K\x01.")
    with pytest.raises(ValueError, match="not a torch legacy-format"):
        load_state_dict(bad)


def test_a_truncated_network_computes_the_same_features():
    image = imagenet_preprocess(resize(skimage.data.chelsea(), 96))[None]
    full = mobilenet_v2((96, 96, 3))
    load_imagenet_weights(full)
    inner = keras.Model(full.input, full.get_layer("features_13_add").output)
    truncated = mobilenet_v2((96, 96, 3), blocks=13)
    load_imagenet_weights(truncated)
    np.testing.assert_allclose(truncated.predict(image, verbose=0), inner.predict(image, verbose=0), atol=1e-4)
    with pytest.raises(ValueError, match="blocks must be 1-18"):
        mobilenet_v2(blocks=0)


def test_fine_tuning_unfreezes_the_upper_blocks_of_a_truncated_network():
    model = build_classifier(2, 96, imagenet=False, blocks=13)
    unfreeze_top(model)
    trainable = {int(layer.name.split("_")[1]) for layer in base_of(model).layers
                 if layer.trainable and layer.weights and layer.name.startswith("features_")}
    assert trainable == set(range(5, 14))
    assert not any(layer.trainable for layer in base_of(model).layers
                   if isinstance(layer, keras.layers.BatchNormalization))
