from dcgan.callbacks.checkpoint import Checkpoint
from dcgan.callbacks.samples import SampleGrid, log_image
from dcgan.callbacks.summary import RunSummary

__all__ = ["Checkpoint", "RunSummary", "SampleGrid", "log_image"]
