"""The LightningModule: one generator, one discriminator, alternating manual Adam steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext

import torch
from lightning.pytorch import LightningModule
from torch import nn

from dcgan.errors import ConfigError
from dcgan.losses import NonSaturating
from dcgan.rng import collect_rng_states, set_rng_states

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


class DCGAN(LightningModule):
    """Per batch: ``d_steps_per_g`` discriminator steps on real and detached fake images, then one
    generator step on the last fake batch, as in the PyTorch DCGAN tutorial.

    Lightning counts every optimizer step in ``trainer.global_step``, so one batch advances it by
    ``d_steps_per_g + 1`` (2 by default): ``trainer.max_steps=2000`` is 1000 iterations.
    """

    # Networks that GANDDPStrategy wraps in their own DistributedDataParallel.
    ddp_net_names = ("generator", "discriminator")

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        loss: NonSaturating | None = None,
        d_steps_per_g: int = 1,
        num_fixed_samples: int = 64,
        on_nonfinite: str = "stop",
    ) -> None:
        super().__init__()
        if int(d_steps_per_g) < 1:
            raise ConfigError(f"model.d_steps_per_g={d_steps_per_g} is invalid: use an integer >= 1")
        if (generator.image_size, generator.channels) != (discriminator.image_size, discriminator.channels):
            raise ConfigError(
                f"generator makes {generator.channels}x{generator.image_size}px images but the discriminator "
                f"expects {discriminator.channels}x{discriminator.image_size}px: set both from dataset.*"
            )
        if on_nonfinite not in ("stop", "skip"):
            raise ConfigError(f"model.on_nonfinite={on_nonfinite!r} is invalid: use 'stop' or 'skip'")
        for key, factory, net in (("optimizer_g", optimizer_g, generator), ("optimizer_d", optimizer_d, discriminator)):
            try:  # build once now, so a bad lr or beta stops the run before the Trainer starts
                factory(net.parameters())
            except (ValueError, TypeError) as error:
                raise ConfigError(f"{key}: {error} (fix {key}.* in the config)") from None
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.loss = loss if loss is not None else NonSaturating()
        self.d_steps_per_g = int(d_steps_per_g)
        self.on_nonfinite = on_nonfinite
        self.skipped_steps = 0
        self._pending_rng: dict | None = None
        self.nz = generator.nz
        # A buffer, so the sample grids of a resumed run continue the same latent points.
        self.register_buffer("fixed_noise", torch.randn(num_fixed_samples, self.nz))
        self.ddp_nets: dict[str, nn.Module] = {}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def configure_optimizers(self):
        return [
            self.optimizer_g(self.generator.parameters()),
            self.optimizer_d(self.discriminator.parameters()),
        ]

    def _ddp(self, name: str) -> nn.Module:
        """The DDP wrapper of a net while training under GANDDPStrategy, else the net itself."""
        wrapped = self.ddp_nets.get(name)
        return getattr(self, name) if wrapped is None else wrapped

    def noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.nz, device=self.device)

    def training_step(self, batch, batch_idx: int) -> None:
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        opt_g, opt_d = self.optimizers()
        for step in range(self.d_steps_per_g):
            if step < self.d_steps_per_g - 1:
                with torch.no_grad():
                    fake = self.generator(self.noise(real.shape[0]))
            else:
                # The last fake batch keeps its graph for the generator step; made after the no-grad
                # ones so that no BatchNorm buffer changes between this forward and its backward.
                fake = self._ddp("generator")(self.noise(real.shape[0]))
            loss_d, d_real, d_fake = self._discriminator_step(opt_d, real, fake.detach())
        loss_g, d_fake_after = self._generator_step(opt_g, fake)
        self.log_dict(
            {"train/loss_d": loss_d, "train/loss_g": loss_g},
            prog_bar=True, on_step=True, on_epoch=False, batch_size=real.shape[0],
        )  # fmt: skip
        if self.on_nonfinite == "skip":
            self.log("train/skipped_steps", float(self.skipped_steps), on_step=True, on_epoch=False)
        self.log_dict(
            {"train/d_real": d_real, "train/d_fake": d_fake, "train/d_fake_after": d_fake_after},
            on_step=True, on_epoch=False, batch_size=real.shape[0],
        )  # fmt: skip

    def _discriminator_step(self, opt_d, real: torch.Tensor, fake: torch.Tensor):
        net = self._ddp("discriminator")
        # Real and fake go through D in separate batches (separate BatchNorm statistics, as in the
        # tutorial), each forward followed by its backward; under DDP the first backward only
        # accumulates locally and the second all-reduces the sum.
        with net.no_sync() if hasattr(net, "no_sync") else nullcontext():
            real_logits = net(real)
            loss_real = self.loss.d_real(real_logits)
            self.manual_backward(loss_real)
        fake_logits = net(fake)
        loss_fake = self.loss.d_fake(fake_logits)
        self.manual_backward(loss_fake)
        self._step(opt_d, loss_real + loss_fake)
        return (
            (loss_real + loss_fake).detach(),
            torch.sigmoid(real_logits.detach().float()).mean(),
            torch.sigmoid(fake_logits.detach().float()).mean(),
        )

    def _generator_step(self, opt_g, fake: torch.Tensor):
        # D is frozen (toggled) and called without its DDP wrapper: it only passes gradients to G.
        with self.toggled_optimizer(opt_g):
            logits = self.discriminator(fake)
            loss_g = self.loss.g_loss(logits)
            self.manual_backward(loss_g)
            self._step(opt_g, loss_g)
        return loss_g.detach(), torch.sigmoid(logits.detach().float()).mean()

    def _step(self, optimizer, loss: torch.Tensor) -> None:
        # on_nonfinite=skip pays one host sync per step to drop the update of a non-finite loss;
        # "stop" leaves the check to DivergenceGuard and the checkpoint callback (no per-step sync).
        if self.on_nonfinite == "skip" and not bool(torch.isfinite(loss.detach())):
            self.skipped_steps += 1
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rng_states"] = collect_rng_states()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Applied at the first resumed batch: building the dataloader iterators draws random numbers
        # that an uninterrupted run drew long before.
        self._pending_rng = checkpoint.get("rng_states")

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if self._pending_rng is not None:
            if self.trainer.world_size == 1:
                set_rng_states(self._pending_rng)
            else:  # the checkpoint holds rank 0's states: give every rank its own stream again
                torch.manual_seed(torch.initial_seed() + self.global_rank + self.trainer.global_step)
            self._pending_rng = None

    @torch.no_grad()
    def sample(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] for ``noise`` (default: the fixed noise), G in eval mode."""
        noise = self.fixed_noise if noise is None else noise
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(noise.to(self.device)).float()
        finally:
            self.generator.train(was_training)
