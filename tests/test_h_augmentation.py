"""Section H, question 18: image augmentation, what its layers do and what it does to training."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tests.checks import (
    assert_rejected,
    fit_side_by_side,
    keras_submodule,
    random_array,
    skip_unless_trainable,
    tensorflow_or_skip,
    to_numpy,
)
from tests.experiments import decide, mean_interval, seeds
from tests.strategies import (
    examples,
    pixel_batches,
)

# The seven layers of Keras 3.0 (q18-augmentation-layers-exist): every version has them.
AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                       "RandomContrast", "RandomCrop", "RandomBrightness")
# Layers whose strength is one `factor`; RandomFlip (a mode) and RandomCrop (a size) have none.
FACTOR_LAYERS = ("RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                 "RandomBrightness")
CROP = 5  # RandomCrop's target side; every drawn image is at least 6 pixels wide
PIXEL_RANGE = (0.0, 255.0)  # the range the layers assume by default (value_range)


# Random* layers that are no image augmentation (Keras 2.12's kernel approximation).
NOT_AUGMENTATION = ("RandomFourierFeatures",)
# How each layer takes a strength `f`, where not as one `factor`.
LAYER_ARGUMENTS = {
    "RandomFlip": lambda f: (("horizontal",), {}),
    "RandomCrop": lambda f: ((CROP, CROP), {}),
    "RandomTranslation": lambda f: ((f, f), {}),
    "RandomShear": lambda f: ((), {"x_factor": f, "y_factor": f}),
    "RandomColorJitter": lambda f: ((), {f"{part}_factor": f for part in
                                         ("brightness", "contrast", "saturation", "hue")}),
    "RandomPosterization": lambda f: ((4,), {}),  # an integer: the bits kept, at most
}


def image_augmentation_layers(keras) -> list[str]:
    """Every image augmentation layer this Keras has: its Random* layers (7 in Keras 3.0; 9 in
    Keras 2, with RandomHeight and RandomWidth; 20 in Keras 3.15)."""
    return sorted(n for n in dir(keras.layers)
                  if n.startswith("Random") and n not in NOT_AUGMENTATION)


def augmentation_layer(keras, name: str, seed: int | None = None, factor: float = 0.3):
    """One augmentation layer with a moderate setting (RandomFlip flips horizontally)."""
    args, kwargs = LAYER_ARGUMENTS.get(name, lambda f: ((f,), {}))(factor)
    return getattr(keras.layers, name)(*args, seed=seed, **kwargs)


def augment(keras, layer, images: np.ndarray, training: bool) -> np.ndarray:
    return to_numpy(keras, layer(images, training=training))


@pytest.mark.claim("q18-augmentation-layers-exist")
def test_keras_has_the_seven_image_augmentation_layers(keras, evidence):
    """Keras provides preprocessing layers for image augmentation: RandomFlip, RandomRotation,
    RandomZoom, RandomTranslation, RandomContrast, RandomCrop and RandomBrightness."""
    found = sorted(n for n in dir(keras.layers) if n.startswith("Random"))
    evidence(f"{len(found)} Random* layers: {', '.join(found)}")
    missing = [n for n in AUGMENTATION_LAYERS if n not in found]
    assert not missing, f"no keras.layers.{', '.join(missing)}"


@pytest.mark.claim("q18-augmentation-layers-exist")
def test_augmentation_layers_run_inside_a_tf_data_pipeline(keras, evidence):
    """Each layer also works as a tf.data map step, where TensorFlow is installed."""
    tf = tensorflow_or_skip("a tf.data pipeline")
    images = random_array((4, 8, 8, 3)) * 127.5 + 127.5
    shapes = {}
    missing = [name for name in AUGMENTATION_LAYERS if not hasattr(keras.layers, name)]
    assert not missing, f"no keras.layers.{', '.join(missing)}"
    for name in AUGMENTATION_LAYERS:
        layer = augmentation_layer(keras, name, seed=1)
        pipeline = tf.data.Dataset.from_tensor_slices(images).batch(2).map(
            lambda x, layer=layer: layer(x, training=True))
        shapes[name] = [tuple(batch.shape) for batch in pipeline]
    evidence(f"tf.data map on the {keras.backend.backend()} backend: all 7 layers ran")
    side = {name: CROP if name == "RandomCrop" else 8 for name in AUGMENTATION_LAYERS}
    assert shapes == {name: [(2, side[name], side[name], 3)] * 2 for name in AUGMENTATION_LAYERS}


@pytest.mark.claim("q18-layers-configurable")
@pytest.mark.parametrize("name", FACTOR_LAYERS)
def test_larger_factor_makes_stronger_variants(keras, evidence, name):
    """Each layer's own parameter sets how far a variant strays: factor 0.5 changes the
    pixels more, on average, than factor 0.05."""
    images = random_array((16, 8, 8, 3), seed=5) * 127.5 + 127.5

    def mean_change(factor):
        layer = augmentation_layer(keras, name, seed=3, factor=factor)
        return float(np.abs(augment(keras, layer, images, training=True) - images).mean())

    weak, strong = mean_change(0.05), mean_change(0.5)
    evidence(f"{name} mean |change| {weak:.1f} at factor 0.05, {strong:.1f} at 0.5")
    assert weak < strong, f"{name}: mean change {weak:.2f} at factor 0.05, {strong:.2f} at 0.5"


@pytest.mark.claim("q18-random-variants")
@settings(max_examples=examples(14))
@given(images=pixel_batches(), name=st.sampled_from(AUGMENTATION_LAYERS))
def test_variants_keep_shape_and_pixel_range(keras, images, name):
    """In training each layer returns finite pixels in [0, 255] of the input's shape
    (RandomCrop: the requested CROP x CROP)."""
    out = augment(keras, augmentation_layer(keras, name), images, training=True)
    batch, height, width, channels = images.shape
    size = (CROP, CROP) if name == "RandomCrop" else (height, width)
    assert out.shape == (batch, *size, channels)
    assert np.isfinite(out).all()
    # 1e-3 absorbs float32 rounding in interpolation and clipping.
    assert PIXEL_RANGE[0] - 1e-3 <= out.min() and out.max() <= PIXEL_RANGE[1] + 1e-3


@pytest.mark.claim("q18-random-variants")
@pytest.mark.parametrize("name", AUGMENTATION_LAYERS)
def test_unseeded_layer_gives_a_new_variant_on_later_calls(keras, name):
    """Without a seed, repeated calls on the same images give different variants (8 calls,
    so that even a coin-flip layer repeats itself with probability 2**-7)."""
    images = random_array((1, 8, 8, 3), seed=6) * 127.5 + 127.5
    layer = augmentation_layer(keras, name)
    variants = {augment(keras, layer, images, training=True).tobytes() for _ in range(8)}
    assert len(variants) > 1, f"{name} returned the same image on 8 calls"


@pytest.mark.claim("q18-random-variants")
@settings(max_examples=examples(10))
@given(images=pixel_batches(), name=st.sampled_from(AUGMENTATION_LAYERS),
       seed=st.integers(0, 2**16))
def test_same_seed_gives_the_same_variants(keras, images, name, seed):
    """Two layers built with the same seed produce identical variants, call after call."""
    first, second = (augmentation_layer(keras, name, seed=seed) for _ in range(2))
    for _ in range(2):
        np.testing.assert_array_equal(augment(keras, first, images, training=True),
                                      augment(keras, second, images, training=True))


def assert_unchanged_at_inference(keras, images: np.ndarray) -> None:
    """Every image augmentation layer but RandomCrop returns `images` unchanged with
    training=False."""
    for name in image_augmentation_layers(keras):
        if name != "RandomCrop":
            out = augment(keras, augmentation_layer(keras, name), images, training=False)
            np.testing.assert_array_equal(out, images, err_msg=name)


@pytest.mark.claim("q18-training-only")
@settings(max_examples=examples(8))
@given(images=pixel_batches())
def test_augmentation_is_the_identity_at_inference(keras, images):
    """With training=False every image augmentation layer but RandomCrop returns the images
    unchanged."""
    assert_unchanged_at_inference(keras, images)


@pytest.mark.claim("q18-training-only", correction=True)
def test_every_augmentation_but_random_crop_is_the_identity_at_inference_in_every_version(keras):
    """The correction's first sentence, checked where the claim is refuted too, so that a layer
    that starts augmenting at inference shows as drift there."""
    assert_unchanged_at_inference(keras, random_array((2, 8, 8, 3), seed=8) * 127.5 + 127.5)


def crop_probe_images() -> np.ndarray:
    """Two 8 x 12 RGB images: wider than RandomCrop's CROP x CROP, and of another aspect."""
    return random_array((2, 8, 12, 3), seed=7) * 127.5 + 127.5


@pytest.mark.claim("q18-training-only")
def test_random_crop_gives_its_fixed_size_at_inference_too(keras, evidence):
    """RandomCrop crops to its fixed size in training; at inference (a call with
    training=False, and predict) it must give that size too, deterministically, so that a model
    trained on its crops can take what it gives. The evidence lists every layer whose output size
    differs between training and inference."""
    images = crop_probe_images()
    differ = []
    for name in image_augmentation_layers(keras):
        layer = augmentation_layer(keras, name, seed=1)
        sizes = [augment(keras, layer, images, training).shape[1:3] for training in (True, False)]
        if sizes[0] != sizes[1]:
            differ.append(f"{name} {sizes[0]} in training, {sizes[1]} at inference")
    evidence("output size differs between training and inference on (8, 12) images: "
             + ("; ".join(differ) or "no layer"))
    layer = augmentation_layer(keras, "RandomCrop")
    first, second = (augment(keras, layer, images, training=False) for _ in range(2))
    model = keras.Sequential([keras.Input(shape=images.shape[1:]), layer])
    predicted = model.predict(images, verbose=0)
    assert first.shape == predicted.shape == (2, CROP, CROP, 3), (
        f"RandomCrop({CROP}, {CROP}) at inference maps {images.shape} to {first.shape} "
        f"(predict: {predicted.shape}); in training to (2, {CROP}, {CROP}, 3)")
    np.testing.assert_array_equal(first, second)


# Keras 3.8 made RandomCrop pass images through at inference (observed: 3.7.0 resizes them to
# the crop size, 3.8.0 returns them unchanged).
CROP_PASSES_THROUGH_FROM = Version("3.8")


@pytest.mark.claim("q18-training-only", correction=True)
def test_random_crop_at_inference_resizes_up_to_keras_3_7_and_passes_through_from_3_8(
        keras, environment):
    """Up to Keras 3.7 (and in Keras 2, tf-keras) RandomCrop at inference gives its fixed size:
    the largest centred window of its aspect ratio, resized, as Resizing(crop_to_aspect_ratio)
    does. From 3.8 it returns the images unchanged, so a model built on the cropped size
    (Flatten, Dense) fails in predict."""
    images = crop_probe_images()
    out = augment(keras, augmentation_layer(keras, "RandomCrop"), images, training=False)
    if environment.package == "keras" and environment.version >= CROP_PASSES_THROUGH_FROM:
        np.testing.assert_array_equal(out, images)
        model = keras.Sequential([keras.Input(shape=images.shape[1:]),
                                  keras.layers.RandomCrop(CROP, CROP), keras.layers.Flatten(),
                                  keras.layers.Dense(1)])
        assert_rejected(lambda: model.predict(images, verbose=0),
                        "predict through RandomCrop, Flatten and Dense", errors=(ValueError,))
    else:
        resized = keras.layers.Resizing(CROP, CROP, crop_to_aspect_ratio=True)(images)
        np.testing.assert_allclose(out, to_numpy(keras, resized), atol=1e-3)


def right_arrow(size: int = 9) -> np.ndarray:
    """A single-channel image of an arrow pointing right: a shaft and a head on the right."""
    image = np.zeros((size, size), dtype="float32")
    middle = size // 2
    image[middle, 1 : size - 1] = 255.0
    for step in range(1, 3):
        image[middle - step, size - 2 - step] = image[middle + step, size - 2 - step] = 255.0
    return image


@pytest.mark.claim("q18-unwanted-variants")
def test_horizontal_flip_turns_a_right_arrow_into_a_left_arrow(keras, evidence):
    """Illustration: RandomFlip('horizontal') turns some 'points right' images into exact
    'points left' images, so a variant can carry the other class's meaning."""
    arrow = right_arrow()
    batch = np.repeat(arrow[None, :, :, None], 16, axis=0)
    out = augment(keras, keras.layers.RandomFlip("horizontal", seed=2), batch, training=True)
    left = np.fliplr(arrow)
    flipped = sum(np.array_equal(image[:, :, 0], left) for image in out)
    evidence(f"{flipped} of 16 augmented right arrows point left")
    assert not np.array_equal(arrow, left) and flipped > 0


@pytest.mark.claim("q18-enlarges-training-set")
def test_augmentation_layers_add_samples(keras):
    """The seed: augmentation increases the size of the training set; so a layer in training
    returns more images than it is given."""
    images = random_array((4, 8, 8, 3), seed=8) * 127.5 + 127.5
    counts = {name: len(augment(keras, augmentation_layer(keras, name, seed=1), images, True))
              for name in AUGMENTATION_LAYERS}
    assert all(count > len(images) for count in counts.values()), (
        "images out for 4 in, in training: "
        + ", ".join(f"{name} {count}" for name, count in counts.items()))


@pytest.mark.claim("q18-enlarges-training-set")
def test_image_data_generator_adds_samples_per_epoch(keras, environment):
    """Question 5 says the same of ImageDataGenerator: an epoch of flow() over n images holds
    more than n."""
    if environment.major >= 3:
        pytest.skip("no ImageDataGenerator in Keras 3 (see q5-image-data-generator)")
    images = random_array((10, 8, 8, 3), seed=8) * 127.5 + 127.5
    flow = keras_submodule(keras, "preprocessing.image").ImageDataGenerator(
        rotation_range=20, horizontal_flip=True).flow(images, batch_size=4, seed=1)
    per_epoch = sum(len(flow[i]) for i in range(len(flow)))
    assert per_epoch > len(images), (
        f"flow() over 10 images: {len(flow)} batches per epoch, {per_epoch} images")


@pytest.mark.claim("q18-enlarges-training-set", correction=True)
def test_each_epoch_replaces_every_image_by_one_variant_and_variety_grows(keras):
    """An epoch through RandomFlip holds n images for n, each the original or its mirror image
    at the same place; over 8 epochs the model sees more than n distinct images."""
    images = random_array((4, 8, 8, 3), seed=9) * 127.5 + 127.5
    layer = keras.layers.RandomFlip("horizontal", seed=3)
    epochs = [augment(keras, layer, images, training=True) for _ in range(8)]
    for epoch in epochs:
        assert epoch.shape == images.shape
        for image, variant in zip(images, epoch, strict=True):
            assert np.array_equal(variant, image) or np.array_equal(variant, image[:, ::-1])
    distinct = {variant.tobytes() for epoch in epochs for variant in epoch}
    assert len(distinct) > len(images)


# q18-reduces-overfitting: a controlled experiment. The label (is the top half of a noise image
# brighter than the bottom half?) is kept by a horizontal flip, so RandomFlip makes true new
# samples; few training images, so the model overfits without it.
# Each claim is decided by the 95% Student-t interval of the effect paired by seed (the two
# arms share a seed's data and initial weights), not by two bare means. Seeds and validation
# size come from a run of 12 seeds (Keras 3.15.1, TensorFlow, 2 shared cores): the paired
# effect was +0.07 with a per-seed sd of 0.039 on 512 validation images and 0.030 on 4096 (the
# drop was the validation sample's own noise; predicting is cheap). The fixture took 6.5 s
# with 3 seeds on 512 images, 10.2 s with 5 on 4096 and 13.5 s with 6 (tracing and stepping
# grow with the models): 5 seeds give a half-width of 2.776 * 0.03 / sqrt(5) = 0.037, half
# the effect, for under 4 s more.
OVERFIT_SEEDS = seeds(5)
OVERFIT_TRAIN, OVERFIT_VALIDATION, OVERFIT_EPOCHS, OVERFIT_SIDE = 32, 4096, 30, 8
OVERFIT_MIN_GAP = 0.1  # below it, the plain model did not overfit: no experiment


def flip_invariant_images(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, OVERFIT_SIDE, OVERFIT_SIDE, 1)).astype("float32")
    half = OVERFIT_SIDE // 2
    y = x[:, :half].mean(axis=(1, 2, 3)) > x[:, half:].mean(axis=(1, 2, 3))
    return x, y.astype("float32")[:, None]


def small_cnn(keras, name: str) -> list:
    return [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", name=name)]


def accuracy(model, xs, ys) -> dict[str, float]:
    predictions = model.predict(xs, batch_size=OVERFIT_VALIDATION, verbose=0)
    return {name: float(((p > 0.5) == y).mean())
            for name, p, y in zip(model.output_names, predictions, ys, strict=True)}


AUGMENTATION_KINDS = ("plain", "augmented")


@pytest.fixture(scope="module")
def flip_experiment(keras, environment) -> dict[str, dict[str, list[float]]]:
    """The controlled experiment of q18-reduces-overfitting and
    q18-augmentation-improves-generalisation, run once for both: per seed, the same small CNN
    from the same initial weights, trained with and without RandomFlip('horizontal') in front.
    Returns the accuracy by split ('training', 'validation'), then kind, one value per seed."""
    skip_unless_trainable(environment)
    inputs, outputs, train, validation = [], [], ([], []), ([], [])
    for seed in OVERFIT_SEEDS:
        data = flip_invariant_images(seed, OVERFIT_TRAIN)
        held_out = flip_invariant_images(100 + seed, OVERFIT_VALIDATION)
        keras.utils.set_random_seed(seed)
        bodies = {kind: small_cnn(keras, f"{kind}_{seed}") for kind in AUGMENTATION_KINDS}
        for kind, body in bodies.items():
            image = keras.Input(shape=data[0].shape[1:])
            h = image
            if kind == "augmented":
                h = keras.layers.RandomFlip("horizontal", seed=seed)(image)
            for layer in body:
                h = layer(h)
            inputs.append(image)
            outputs.append(h)
            for split, (x, y) in ((train, data), (validation, held_out)):
                split[0].append(x)
                split[1].append(y)
        for copy, original in zip(bodies["augmented"], bodies["plain"], strict=True):
            copy.set_weights(original.get_weights())  # the same initial weights
    model = fit_side_by_side(keras, inputs, outputs, *train, OVERFIT_EPOCHS, batch_size=16,
                             loss="binary_crossentropy")
    return {split: {kind: [accuracies[f"{kind}_{s}"] for s in OVERFIT_SEEDS]
                    for kind in AUGMENTATION_KINDS}
            for split, accuracies in (("training", accuracy(model, *train)),
                                      ("validation", accuracy(model, *validation)))}


def per_seed(values: dict[str, list[float]]) -> str:
    """'plain 0.62, 0.60, 0.65 (mean 0.62); augmented ...' for the evidence."""
    return "; ".join(f"{kind} {', '.join(f'{v:.2f}' for v in vs)} (mean {np.mean(vs):.2f})"
                     for kind, vs in values.items())


@pytest.mark.claim("q18-reduces-overfitting")
def test_random_flip_narrows_the_train_validation_gap(flip_experiment, evidence):
    """Augmentation reduces overfitting: per seed, the same small CNN from the same initial
    weights, trained with and without RandomFlip('horizontal') in front; the gap between
    training and validation accuracy is smaller with augmentation (the 95% interval of the
    paired gap plain - augmented lies above 0)."""
    fitted, held = flip_experiment["training"], flip_experiment["validation"]
    gaps = {kind: np.subtract(fitted[kind], held[kind]) for kind in AUGMENTATION_KINDS}
    effect = mean_interval(gaps["plain"] - gaps["augmented"], over="seeds")
    evidence(f"train - validation accuracy after {OVERFIT_EPOCHS} epochs on {OVERFIT_TRAIN} "
             f"images, gap plain - augmented (paired by seed): {effect.text()}; per seed: "
             + per_seed(gaps) + "; validation accuracy " + "; ".join(
                 f"{kind} {np.mean(held[kind]):.2f}" for kind in AUGMENTATION_KINDS))
    if np.mean(gaps["plain"]) < OVERFIT_MIN_GAP:
        raise RuntimeError(f"the plain model did not overfit (gap {np.mean(gaps['plain']):.2f})"
                           ": no experiment")
    decide(effect, 0, "above", "train - validation gap, plain - augmented")


# Below it on average, neither model learned the task: no experiment (chance is 0.5).
GENERALISATION_MIN_ACCURACY = 0.55


@pytest.mark.claim("q18-augmentation-improves-generalisation")
def test_random_flip_raises_the_validation_accuracy(flip_experiment, evidence):
    """Augmentation can improve how the model generalises: in q18-reduces-overfitting's
    experiment, the accuracy on held-out images is higher with RandomFlip('horizontal') than
    without it (the 95% interval of the paired difference augmented - plain lies above 0)."""
    held = flip_experiment["validation"]
    effect = mean_interval(np.subtract(held["augmented"], held["plain"]), over="seeds")
    evidence(f"accuracy on {OVERFIT_VALIDATION} held-out images after {OVERFIT_EPOCHS} epochs "
             f"on {OVERFIT_TRAIN}, augmented - plain (paired by seed): {effect.text()}; per "
             "seed: " + per_seed(held))
    mean = {kind: float(np.mean(values)) for kind, values in held.items()}
    if max(mean.values()) < GENERALISATION_MIN_ACCURACY:
        raise RuntimeError(f"neither model learned the task (validation accuracy {mean}): "
                           "no experiment")
    decide(effect, 0, "above", "validation accuracy, augmented - plain")


# q18-adds-compute-cost: training steps per second with and without augmentation layers.
COST_SAMPLES, COST_BATCH, COST_EPOCHS, COST_REPEATS = 256, 32, 2, 3


def cost_model(keras, augmentation: list):
    """A small CNN on 32 x 32 RGB images behind the `augmentation` layers, compiled."""
    model = keras.Sequential([
        keras.Input(shape=(32, 32, 3)), *augmentation, keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def steps_per_second(models: dict) -> dict[str, float]:
    """Fit steps/s of each model: the fastest of COST_REPEATS timed runs after a warm-up epoch
    (which compiles), the models' runs taking turns so that a change in the machine's load
    falls on both."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (COST_SAMPLES, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 2, (COST_SAMPLES, 1)).astype("float32")
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        model.fit(x, y, batch_size=COST_BATCH, epochs=1, verbose=0)
    for _ in range(COST_REPEATS):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=COST_BATCH, epochs=COST_EPOCHS, verbose=0)
            seconds[name].append(time.perf_counter() - start)
    return {name: COST_EPOCHS * COST_SAMPLES / COST_BATCH / min(s) for name, s in seconds.items()}


@pytest.mark.bench
@pytest.mark.claim("q18-adds-compute-cost")
def test_augmentation_layers_slow_training_down(keras, environment, evidence):
    """The seed: making more versions of the data costs computation. Training steps/s with the
    usual augmentation layers in the model (flip, rotation, zoom, translation, contrast) against
    without, in one run."""
    skip_unless_trainable(environment)
    speed = steps_per_second({"plain": cost_model(keras, []), "augmented": cost_model(keras, [
        keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1),
        keras.layers.RandomZoom(0.1), keras.layers.RandomTranslation(0.1, 0.1),
        keras.layers.RandomContrast(0.1)])})
    ratio = speed["augmented"] / speed["plain"]
    evidence(f"fit {speed['plain']:.0f} steps/s without augmentation, {speed['augmented']:.0f} "
             f"with: ratio {ratio:.2f}")
    # The stated reading of 'more costly': fewer steps/s with augmentation (ratio below 1).
    assert ratio < 1, f"with augmentation {ratio:.2f} of the steps/s"
