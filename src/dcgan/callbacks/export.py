"""The final generator as a small file of its own, and optionally as a W&B model artifact."""

from __future__ import annotations

import re
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger

from dcgan.files import atomic_save


def generator_state(pl_module: LightningModule, global_step: int) -> dict:
    """What ``generator.pt`` holds: the sampling generator's weights (the EMA copy when the run keeps one)
    and the fixed noise under their checkpoint names, and the run config; ``dcgan.checkpoints`` loads it
    like a training checkpoint."""
    state = pl_module.sampling_state_dict()
    state["fixed_noise"] = pl_module.fixed_noise.detach().cpu()
    return {"state_dict": state, "hyper_parameters": dict(pl_module.hparams), "global_step": global_step}


class GeneratorExport(Callback):
    """When training ends, writes the generator as ``path`` (weights + run config, loadable with
    ``torch.load(weights_only=True)``; ``generate.py ckpt_path=<path>`` takes it). With
    ``wandb_artifact=true`` and a W&B logger, also logs it as a ``model`` artifact of the run
    (offline runs stage it; ``wandb sync`` uploads it)."""

    def __init__(self, path: str | Path, wandb_artifact: bool) -> None:
        self.path, self.wandb_artifact = Path(path), bool(wandb_artifact)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        atomic_save(generator_state(pl_module, trainer.global_step), self.path)
        if self.wandb_artifact:
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    self._log_artifact(logger, pl_module, trainer.global_step)

    def _log_artifact(self, logger: WandbLogger, pl_module: LightningModule, step: int) -> None:
        import wandb

        run = logger.experiment
        g = pl_module.generator
        metadata = {"global_step": step, "nz": g.nz, "image_size": g.image_size, "channels": g.channels}
        metadata["generator"] = pl_module.hparams.get("model", {}).get("generator", {})
        name = re.sub(r"[^\w.-]", "-", f"generator-{run.id}")
        artifact = wandb.Artifact(name, type="model", metadata=metadata)
        artifact.add_file(str(self.path))
        run.log_artifact(artifact, aliases=["latest", f"step-{step}"])
