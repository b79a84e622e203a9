from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import make_array, make_celeba, make_cifar10, make_image_folder, make_mnist_like, make_svhn


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory) -> Path:
    """One folder with every dataset in its real on-disk format, tiny (read-only by convention)."""
    root = tmp_path_factory.mktemp("datasets")
    make_mnist_like(root, "FashionMNIST")
    make_mnist_like(root, "MNIST", seed=1)
    make_cifar10(root)
    make_svhn(root)
    make_celeba(root)
    make_image_folder(root / "images")
    make_image_folder(root / "pokemon", size=(96, 96), seed=3)
    make_array(root / "images.npy")
    make_array(root / "faces.npy", size=64, seed=4)
    return root
