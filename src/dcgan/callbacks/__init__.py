from dcgan.callbacks.checkpoint import Checkpoint
from dcgan.callbacks.export import GeneratorExport
from dcgan.callbacks.pictures import RunPictures
from dcgan.callbacks.progress import ProgressBar
from dcgan.callbacks.samples import SampleGrid
from dcgan.callbacks.step_axis import GlobalStepAxis
from dcgan.callbacks.summary import RunSummary
from dcgan.loggers import log_image

__all__ = [
    "Checkpoint",
    "GeneratorExport",
    "GlobalStepAxis",
    "ProgressBar",
    "RunPictures",
    "RunSummary",
    "SampleGrid",
    "log_image",
]
