"""DDP for a GAN: generator and discriminator each in their own DistributedDataParallel.

Lightning's stock DDP wraps the whole LightningModule once; with two optimizers stepping in turn,
each backward leaves the other net's parameters without gradients ("parameters that were not used
in producing the loss") and a D step could run before its gradients are all-reduced. Wrapping the
two nets separately (as StudioGAN does) keeps ``find_unused_parameters=False`` and exact gradient
averaging. Importing this module makes it the strategy behind ``ddp``, ``ddp_spawn`` and
``ddp_fork``, so ``trainer.devices=2`` alone picks it.
"""

from __future__ import annotations

import torch
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry


class GANDDPStrategy(DDPStrategy):
    """DDPStrategy that wraps each of ``lightning_module.ddp_net_names`` in its own DDP."""

    def configure_ddp(self) -> None:
        module = self.lightning_module
        names = getattr(module, "ddp_net_names", ())
        if not names:
            return super().configure_ddp()
        # The module tree stays unwrapped, so checkpoints never see a "module." prefix.
        module.ddp_nets = {name: self._setup_model(getattr(module, name)) for name in names}

    def setup_distributed(self) -> None:
        super().setup_distributed()
        # Every rank was seeded alike; offset the seed so ranks draw different noise and dropout masks.
        torch.manual_seed(torch.initial_seed() + self.global_rank)

    def teardown(self) -> None:
        module = self.lightning_module
        if module is not None and getattr(module, "ddp_nets", None):
            module.ddp_nets = {}
        super().teardown()


for _name, _start_method in (("ddp", "popen"), ("ddp_spawn", "spawn"), ("ddp_fork", "fork")):
    StrategyRegistry.register(
        _name,
        GANDDPStrategy,
        description=f"GAN DDP (one DDP per net), start_method '{_start_method}'",
        override=True,
        start_method=_start_method,
    )
