from dcgan.callbacks.samples import SampleGrid, log_image
from dcgan.callbacks.summary import RunSummary

__all__ = ["RunSummary", "SampleGrid", "log_image"]
