"""Lightning callbacks only: grids, pictures, checkpoints, guards, throughput, val/fd."""

from dcgan.callbacks.checkpoint import Checkpoint
from dcgan.callbacks.export import GeneratorExport
from dcgan.callbacks.pictures import RunPictures
from dcgan.callbacks.progress import ProgressBar
from dcgan.callbacks.samples import SampleGrid, TrainingImages
from dcgan.callbacks.summary import RunSummary

__all__ = ["Checkpoint", "GeneratorExport", "ProgressBar", "RunPictures", "RunSummary", "SampleGrid", "TrainingImages"]
