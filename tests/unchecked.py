"""Test-only subclasses that skip torchvision's md5 checks, so fixture files stand in for the real ones.

The product's configs keep the checked classes; tests point ``dataset.source.dataset._target_`` here.
"""

from __future__ import annotations

import os
import pickle

from torchvision import datasets


class UncheckedCIFAR10(datasets.CIFAR10):
    def _check_integrity(self) -> bool:
        folder = os.path.join(self.root, self.base_folder)
        return all(os.path.isfile(os.path.join(folder, name)) for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as file:
            self.classes = pickle.load(file, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


class UncheckedSVHN(datasets.SVHN):
    def _check_integrity(self) -> bool:
        return os.path.isfile(os.path.join(self.root, self.filename))


class UncheckedCelebA(datasets.CelebA):
    def _check_integrity(self) -> bool:
        folder = os.path.join(self.root, self.base_folder)
        annotations = [name for _, _, name in self.file_list if not name.endswith(".zip")]
        present = all(os.path.isfile(os.path.join(folder, name)) for name in annotations)
        return present and os.path.isdir(os.path.join(folder, "img_align_celeba"))


CHECKED = {
    "cifar10": "tests.unchecked.UncheckedCIFAR10",
    "svhn": "tests.unchecked.UncheckedSVHN",
    "celeba": "tests.unchecked.UncheckedCelebA",
}
