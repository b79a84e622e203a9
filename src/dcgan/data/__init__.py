from dcgan.data.array import ArrayDataModule, ArrayImages, ArraySource
from dcgan.data.celeba import CelebASource
from dcgan.data.datamodule import ImageDataModule, split_batch
from dcgan.data.folder import ImageFiles
from dcgan.data.idx import IdxSource
from dcgan.data.sources import LocalSource, Source, SyntheticSource, TorchvisionSource
from dcgan.data.transforms import to_unit_range, uint8_transform

__all__ = [
    "ArrayDataModule",
    "ArrayImages",
    "ArraySource",
    "CelebASource",
    "IdxSource",
    "ImageDataModule",
    "ImageFiles",
    "LocalSource",
    "Source",
    "SyntheticSource",
    "TorchvisionSource",
    "split_batch",
    "to_unit_range",
    "uint8_transform",
]
