"""Your own digits: notebook 08's MNIST-style preparation and predict_image_file, run as the notebook defines them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from notebook_code import definitions
from PIL import Image

import helpers

notebook = definitions("08")  # 08's imports and functions (to_grey ... preprocess_digit, predict_image_file)


@pytest.fixture(scope="module")
def test_set() -> tuple[np.ndarray, np.ndarray]:
    (_, _), (test_data, test_labels) = helpers.load_mnist()
    return test_data, test_labels


TRAIN_IMAGES = 30_000  # as confident on the test digits below as all 54,000 (33 of the first 40), in half the time


@pytest.fixture(scope="module")
def model():
    """A CNN trained as helpers.load_or_train does (notebook 05's recipe), one epoch on the first TRAIN_IMAGES
    training images: about 97% accurate."""
    helpers.setup(0)
    (train_data, train_labels), _ = helpers.split_validation(*helpers.load_mnist()[0])
    model = helpers.build_model("cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(helpers.prepare(train_data[:TRAIN_IMAGES]), train_labels[:TRAIN_IMAGES], epochs=1, verbose=0)
    return model


def test_preprocess_gives_mnist_style_images(test_set) -> None:
    images, _ = test_set
    for image in images[:50]:
        digit = notebook.preprocess_digit(image)
        assert digit.shape == (28, 28) and digit.dtype == np.float32
        assert digit.min() >= 0.0 and digit.max() == pytest.approx(1.0, abs=0.01)
        rows, cols = np.flatnonzero(digit.max(axis=1) > 0.05), np.flatnonzero(digit.max(axis=0) > 0.05)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fits the 20x20 box
        ys, xs = np.indices(digit.shape)
        assert abs((ys * digit).sum() / digit.sum() - 14) <= 0.75  # centre of mass where MNIST has it
        assert abs((xs * digit).sum() / digit.sum() - 14) <= 0.75


def test_preprocess_inverts_dark_on_light_and_rescales() -> None:
    image = np.full((300, 200), 250.0)
    image[50:250, 90:110] = 10.0  # a dark vertical stroke, a "1", on white paper
    digit = notebook.preprocess_digit(image)
    assert digit[0, 0] == 0.0 and digit[14, 14] > 0.9  # white ink on black, in the middle
    assert (digit.max(axis=1) > 0.5).sum() == 20  # the tall side fills 20 pixels


def test_preprocess_colour_image() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[10:54, 30:34] = (255, 200, 0)
    assert notebook.preprocess_digit(image).shape == (28, 28)


@pytest.mark.parametrize("value", [0, 255, 128])
def test_preprocess_empty_image(value: int) -> None:
    with pytest.raises(ValueError, match="The image is empty"):
        notebook.preprocess_digit(np.full((50, 50), value, np.uint8))


def test_preprocess_wrong_shape() -> None:
    expected = r"Expected a 2-D grey or an RGB\(A\) image; got an array of shape \(5, 5, 7\)"
    with pytest.raises(ValueError, match=expected):
        notebook.preprocess_digit(np.zeros((5, 5, 7)))


def _as_photo(image: np.ndarray, size: tuple[int, int], invert: bool, mode: str) -> Image.Image:
    """An MNIST digit rescaled to another size, optionally dark-on-light, as a grey or colour picture."""
    pixels = 255 - image if invert else image
    picture = Image.fromarray(np.pad(pixels, 6, constant_values=int(pixels[0, 0])))
    return picture.resize(size, Image.BICUBIC).convert(mode)


class _OneBatch:
    """The model, for predict_image_file's `model.predict(image, verbose=0)`: the same probabilities, as one batch,
    without the set-up that predict repeats on each call (80 ms here, for a hundred single images)."""

    def __init__(self, model) -> None:
        self.model = model

    def predict(self, images: np.ndarray, verbose: int = 0) -> np.ndarray:
        return self.model.predict_on_batch(images)


@pytest.mark.parametrize(
    ("size", "invert", "mode", "suffix"),
    [((140, 140), True, "L", ".png"), ((56, 56), True, "RGB", ".jpg"), ((300, 300), False, "RGB", ".png")],
)
def test_files_are_classified_as_their_originals(tmp_path: Path, model, test_set, size, invert, mode, suffix) -> None:
    """Test digits the model reads with confidence keep their class when saved rescaled, inverted, as colour."""
    images, _ = test_set
    probabilities = model.predict(helpers.prepare(images[:40]), verbose=0)
    confident = np.flatnonzero(probabilities.max(axis=1) >= 0.99)
    assert len(confident) >= 30
    one_batch = _OneBatch(model)
    for i in confident:
        path = tmp_path / f"digit{i}{suffix}"
        _as_photo(images[i], size, invert, mode).save(path)
        predicted, file_probabilities = notebook.predict_image_file(path, one_batch)
        assert file_probabilities.shape == (10,) and file_probabilities.sum() == pytest.approx(1.0, abs=1e-4)
        original = int(np.argmax(probabilities[i]))
        assert predicted == original, f"test digit {i} ({path.name}): {predicted} instead of {original}"


def test_predict_image_file_missing(tmp_path: Path, model) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        notebook.predict_image_file(tmp_path / "my_digit.png", model)


def test_predict_image_file_not_an_image(tmp_path: Path, model) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(ValueError, match=r"notes.png: not an image file Pillow can read"):
        notebook.predict_image_file(path, model)


def test_predict_image_file_blank(tmp_path: Path, model) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(path)
    with pytest.raises(ValueError, match="The image is empty"):
        notebook.predict_image_file(path, model)


def test_predict_image_file_directory(tmp_path: Path, model) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory, not an image"):
        notebook.predict_image_file(tmp_path, model)
