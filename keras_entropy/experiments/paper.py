"""The paper's settings (seed 001, section 5), in one place.

Each experiment module builds and trains its models; what the paper fixed
(its lambda grid, architectures, budgets, placements) lives here, so a
reader compares the experiments' settings side by side and a change to the
grid is made once. The experiment modules read their dict (`*_PAPER`) and
a run's config overrides any entry of it.
"""

#: The paper's lambda grid, with 0 as the baseline. Its list was lost in
#: conversion; MATH.md gives the range, roughly 1e-4 .. 10.
PAPER_LAMS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

#: Placement of the lambda = 0 baseline runs in configs (no penalty anywhere).
NO_PLACEMENT = "none"

#: The entropy change the paper penalises (the penalties' `form`; MATH.md
#: sections 8-10 give the others, "volume" and "normalized"). A config
#: without `form` ran it: sweeps add `form` only when it is another one, so
#: that results files written before the forms existed keep their run keys.
PAPER_FORM = "paper"

#: Dense autoencoder (section 5.2).
DENSE_AUTOENCODER_PAPER = {
    "latent_dims": [20, 60, 100, 140, 180, 220, 260],
    "lams": list(PAPER_LAMS),
    "form": PAPER_FORM,
    "replications": 10,
    "patience": 7,
    "max_epochs": 200,
    "batch_size": 128,
    "learning_rate": 1e-3,
}

#: Small CIFAR-10 CNNs (section 5.3). The paper does not give the epoch
#: budget: we stop after `patience` epochs without a validation-accuracy
#: gain and report the accuracies of the best epoch.
CNN_PAPER = {
    "depths": [1, 2, 3],
    "widths": [32, 64, 128],
    "lams": list(PAPER_LAMS),
    "form": PAPER_FORM,
    "placements": ["first", "all"],
    "replications": 10,
    "patience": 10,
    "max_epochs": 100,
    "batch_size": 128,
    "learning_rate": 1e-3,
}

#: VGG16 / ResNet50 on Imagenette (section 5.4).
LARGE_CNN_PAPER = {
    "archs": ["vgg16", "resnet50"],
    "trainings": ["vanilla", "augmentation", "augmentation_dropout"],
    "placements": {"vgg16": ["first", "first_two"], "resnet50": ["first", "first_two", "pre_skip", "empirical"]},
    "lams": list(PAPER_LAMS),
    "form": PAPER_FORM,
    "replications": 1,
    "image_size": 224,
    "head_units": 4096,
    "dropout": 0.5,
    "learning_rate": 0.01,
    "lr_patience": 10,
    "lr_factor": 0.1,
    "patience": 25,
    "max_epochs": 200,
    "batch_size": 32,
    "empirical_k": 10,
    "reference": "imagenet",
}

#: The paper's names of the large CNNs' placements (layer indices of the
#: authors' models).
PAPER_PLACEMENT_LABELS = {
    ("vgg16", "first"): "[1]",
    ("vgg16", "first_two"): "[1,2]",
    ("resnet50", "first"): "[1]",
    ("resnet50", "first_two"): "[1,5]",
    ("resnet50", "pre_skip"): "Pre-skip",
    ("resnet50", "empirical"): "Empirical",
}

#: U-Net segmentation (section 5.5): the lambda grid of Table 3, default layers.
UNET_PAPER = {
    "lams": list(PAPER_LAMS),
    "form": PAPER_FORM,
    "placements": ["3,7,11,15"],
    "replications": 1,
    "image_size": 256,
    "base_filters": 16,
    "depth": 4,
    "patience": 10,
    "min_delta": 0.01,
    "max_epochs": 100,
    "batch_size": 16,
    "learning_rate": 1e-3,
}

#: Unsupervised clustering with the softmax entropy loss (seed 000): paper-like
#: defaults on full MNIST.
CLUSTERING_PAPER = {
    "n_clusters": 10,
    "hidden_units": [512, 256],
    "beta": 1.0,
    "balance": 1.0,
    "epochs": 30,
    "batch_size": 256,
    "learning_rate": 1e-3,
    "pca_components": 50,
    "kmeans_iterations": 100,
    "replications": 10,
}

#: Ng's sparse autoencoder (seed 003): Ng's CS294A notes / the UFLDL MNIST
#: exercise (196 hidden units for 28x28 digits, rho 0.05 here, beta 3,
#: lambda 3e-3).
SPARSE_AUTOENCODER_PAPER = {
    "hidden_units": 196,
    "rho": 0.05,
    "betas": [0.0, 3.0],
    "weight_decay": 3e-3,
    "epochs": 50,
    "batch_size": 256,
    "learning_rate": 1e-3,
    "replications": 3,
}

#: Entropy profiles (Figures 1, 7-9): input size of each model, and the
#: training settings when a model has to be trained here (no ImageNet weights).
PROFILE_PAPER = {
    "input_size": {"vgg16": 224, "resnet50": 224, "unet": 256},
    "epochs": 30,
    "batch_size": 32,
    "learning_rate": 1e-4,
}

__all__ = [
    "CLUSTERING_PAPER",
    "CNN_PAPER",
    "DENSE_AUTOENCODER_PAPER",
    "LARGE_CNN_PAPER",
    "NO_PLACEMENT",
    "PAPER_FORM",
    "PAPER_LAMS",
    "PAPER_PLACEMENT_LABELS",
    "PROFILE_PAPER",
    "SPARSE_AUTOENCODER_PAPER",
    "UNET_PAPER",
]
