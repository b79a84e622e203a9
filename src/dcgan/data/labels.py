"""Class labels of a dataset: which datasets have them, and their class names."""

from __future__ import annotations

from torch.utils.data import Dataset


def dataset_classes(dataset: Dataset) -> list[str] | None:
    """The names of ``dataset``'s classes, in label order (label i is ``names[i]``), or None for a dataset
    without meaningful labels. torchvision's ``classes`` where the dataset has them (MNIST, Fashion-MNIST,
    EMNIST, CIFAR-10, a folder of class subfolders); else "0", "1", ... up to its largest label (SVHN's
    digits, whose torchvision class has no names). Datasets without either (CelebA, FakeData, image
    arrays, a flat folder: ``classes`` empty) have none."""
    names = getattr(dataset, "classes", None)
    if names is not None:
        return [str(name) for name in names] or None
    targets = getattr(dataset, "targets", None)
    if targets is None:
        targets = getattr(dataset, "labels", None)
    if targets is None or len(targets) == 0:
        return None
    return [str(i) for i in range(int(max(targets)) + 1)]
