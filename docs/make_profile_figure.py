"""Make docs/images/profile_trained_vs_init.png (the README figure).

    KERAS_BACKEND=jax python docs/make_profile_figure.py

Trains a small VGG-style CNN on the 6,000-image MNIST subset shipped with the
package for a few epochs and plots its entropy profile beside the profile of
the same network at initialisation.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_entropy  # noqa: E402

keras.utils.set_random_seed(0)
(x_train, y_train), _ = keras_entropy.datasets.mnist_subset.load_data()
x = (x_train[..., None] / 255.0).astype("float32")
y = y_train.astype("int32")

layers = [keras.Input((28, 28, 1))]
for filters in (32, 32, "pool", 64, 64, "pool", 128, 128):
    if filters == "pool":
        layers.append(keras.layers.MaxPooling2D())
    else:
        layers.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu"))
layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")]
model = keras.Sequential(layers)

init = keras_entropy.entropy_profile(model, kinds="conv", label="initialised")
model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=64, epochs=8, verbose=2)
trained = keras_entropy.entropy_profile(model, kinds="conv", label="trained (MNIST subset, 8 epochs)")
out = os.path.join(os.path.dirname(__file__), "images", "profile_trained_vs_init.png")
keras_entropy.plot_profiles([trained, init], path=out, figsize=(9, 4))
print("wrote", out)
