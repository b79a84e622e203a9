"""The LightningModule: one generator, one discriminator, alternating manual Adam steps."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext

import torch
from lightning.pytorch import LightningModule
from torch import nn

from dcgan.data import split_batch
from dcgan.errors import ConfigError, whole_number
from dcgan.images import GRID_COLUMNS
from dcgan.latents import class_rows, cycling_labels
from dcgan.models.blocks import preserved_buffers
from dcgan.models.generator import class_names, num_classes
from dcgan.training.ema import ExponentialMovingAverage
from dcgan.training.losses import GANLoss, r1_penalty
from dcgan.training.rng import collect_rng_states, set_rng_states

log = logging.getLogger(__name__)

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]

# What the progress bar shows (model.prog_bar): the tutorial's Loss_D, Loss_G, D(x), D(G(z)) before / after.
PROGRESS_BAR = ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake", "train/d_fake_after")
# Where each generator's weights sit in the module's state dict (the attributes below).
WEIGHT_PREFIX = {"raw": "generator.", "ema": "generator_ema.module."}


class DCGAN(LightningModule):
    """Per batch: ``d_steps_per_g`` discriminator steps on real and detached fake images, then one
    generator step on the last fake batch, as in the PyTorch DCGAN tutorial (``g_fresh_noise``: on a
    batch made from fresh noise, as the CelebA walkthrough).

    Options (all off by default): ``augment`` (a module applied to every D input, e.g. DiffAugment),
    ``r1_gamma`` (R1 penalty weight), ``ema_halflife_kimg`` / ``ema_rampup`` (an EMA copy of G that the
    sample grids, generate.py and evaluate.py use; a half-life in thousands of images, 0: none, capped at
    ``ema_rampup`` times the images seen), ``channels_last`` and ``compile`` (speed).
    ``grid_batch_stats``: the fixed-noise grids use BatchNorm's batch statistics (G in train mode, as the
    tutorial draws them; G's running statistics are left as they were), else eval mode.

    ``conditional``: batches are ``(images, labels)``; G makes each fake batch for the real batch's labels
    and D judges every image with its label (real and fake alike, penalties included).
    """

    # Networks that GANDDPStrategy wraps in their own DistributedDataParallel.
    ddp_net_names = ("generator", "discriminator")

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        optimizer_g: OptimizerFactory,
        optimizer_d: OptimizerFactory,
        loss: GANLoss,
        conditional: bool,
        d_steps_per_g: int,
        g_fresh_noise: bool,
        num_fixed_samples: int,
        on_nonfinite: str,
        augment: nn.Module | None,
        r1_gamma: float,
        ema_halflife_kimg: float,
        ema_rampup: float | None,
        channels_last: bool,
        compile: bool | dict,
        prog_bar: bool,
        grid_batch_stats: bool,
    ) -> None:
        super().__init__()
        _validate(generator, discriminator, optimizer_g, optimizer_d, d_steps_per_g, on_nonfinite, r1_gamma)
        _validate_ema(ema_halflife_kimg, ema_rampup)
        _validate_conditional(generator, discriminator, conditional)
        self.automatic_optimization = False
        self.conditional = bool(conditional)
        self.generator, self.discriminator = generator, discriminator
        self.optimizer_g, self.optimizer_d = optimizer_g, optimizer_d
        self.loss = loss
        self.augment = augment if augment is not None else nn.Identity()
        self.d_steps_per_g, self.r1_gamma = int(d_steps_per_g), float(r1_gamma)
        self.g_fresh_noise, self.grid_batch_stats = bool(g_fresh_noise), bool(grid_batch_stats)
        self.on_nonfinite, self.skipped_steps = on_nonfinite, 0
        ema = ExponentialMovingAverage(generator, ema_halflife_kimg, ema_rampup) if ema_halflife_kimg else None
        self.generator_ema = ema
        self.channels_last, self.prog_bar = bool(channels_last), bool(prog_bar)
        self.compile_options = (dict(compile) if isinstance(compile, Mapping) else {}) if compile else None
        self.nz = generator.nz
        # A buffer, so the sample grids of a resumed run continue the same latent points.
        num_fixed_samples = whole_number("model.num_fixed_samples", num_fixed_samples)
        self.register_buffer("fixed_noise", torch.randn(num_fixed_samples, self.nz))
        self.ddp_nets: dict[str, nn.Module] = {}
        self.stats: dict[str, torch.Tensor] = {}  # the last iteration's train/* statistics (0-d tensors)
        self._epoch_sum: torch.Tensor | None = None  # this epoch's summed (loss_d, loss_g), on the device
        self._epoch_batches = 0
        self._pending_rng: dict | None = None

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return call(self.generator, z, labels)

    def setup(self, stage: str) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.compile_options is not None and stage == "fit":
            # Compile the nets, not the training step (toggle_optimizer breaks Dynamo, Lightning #21686).
            # nn.Module.compile works in place: state_dict keys stay as they are.
            self.generator.compile(**self.compile_options)
            self.discriminator.compile(**self.compile_options)

    def logged_keys(self) -> set[str]:
        """The metrics training_step logs with these options (what a sweep may optimize)."""
        keys = {"train/loss_d", "train/loss_g", "train/d_real", "train/d_fake", "train/d_fake_after"}
        if self.r1_gamma:
            keys.add("train/r1")
        if getattr(self.loss, "gp_weight", 0):
            keys.add("train/penalty")
        if self.on_nonfinite == "skip":
            keys.add("train/skipped_steps")
        return keys

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
        real, labels = split_batch(batch)
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        opt_g, opt_d = self.optimizers()
        if self.on_nonfinite == "skip":  # BatchNorm buffers to put back if a step is dropped
            self._buffers_before = {id(net): [b.clone() for b in net.buffers()] for net in self.ddp_net_modules()}
        for step in range(self.d_steps_per_g):
            if step < self.d_steps_per_g - 1 or self.g_fresh_noise:
                with torch.no_grad():
                    fake = call(self.generator, self.noise(real.shape[0]), labels)
            else:
                # The last fake batch keeps its graph for the generator step; made after the no-grad
                # ones so that no BatchNorm buffer changes between this forward and its backward.
                fake = call(self._ddp("generator"), self.noise(real.shape[0]), labels)
            stats = self._discriminator_step(opt_d, real, fake.detach(), labels)
        if self.g_fresh_noise:
            fake = call(self._ddp("generator"), self.noise(real.shape[0]), labels)
        stats.update(self._generator_step(opt_g, fake, labels))
        if self.generator_ema is not None:
            # the global batch, and the images of the iterations before this one (global_step counts this one)
            batch_size = real.shape[0] * self.trainer.world_size
            num_images = max(self.iteration - 1, 0) * batch_size
            self.generator_ema.update(self.generator, num_images, batch_size, self.noise(real.shape[0]), labels)
        if self.on_nonfinite == "skip":
            stats["train/skipped_steps"] = torch.tensor(float(self.skipped_steps))
        self.stats = stats  # this iteration's statistics, still on the device (callbacks read them)
        # Per-epoch mean losses (Dive into Deep Learning's curves): summed on the device, logged at the
        # epoch's end.
        losses = torch.stack([stats["train/loss_d"], stats["train/loss_g"]]).detach()
        self._epoch_sum = losses if self._epoch_sum is None else self._epoch_sum + losses
        self._epoch_batches += 1
        # Lightning's logging costs host time per call: log where the loggers (or the bar) take it.
        if self.prog_bar or self.trainer._logger_connector.should_update_logs:
            shown = {k: stats[k] for k in PROGRESS_BAR if k in stats}
            self.log_dict(shown, prog_bar=self.prog_bar, on_step=True, on_epoch=False, batch_size=real.shape[0])
            # A logged "step" is the x-axis Lightning gives the loggers: trainer.global_step, as the sample
            # grids and checkpoints use (else, under manual optimization, the batch count).
            rest = {k: v for k, v in stats.items() if k not in shown} | {"step": float(self.trainer.global_step)}
            self.log_dict(rest, on_step=True, on_epoch=False, batch_size=real.shape[0])

    def on_train_epoch_end(self) -> None:
        if self._epoch_sum is None:
            return
        means = self.trainer.strategy.reduce(self._epoch_sum / self._epoch_batches, reduce_op="mean")
        self._epoch_sum, self._epoch_batches = None, 0
        epoch = {"train/epoch_loss_d": float(means[0]), "train/epoch_loss_g": float(means[1])}
        self.trainer.callback_metrics.update({k: torch.tensor(v) for k, v in epoch.items()})
        for logger in self.trainer.loggers:  # at the epoch's last global step, as the other scalars
            logger.log_metrics(epoch, step=self.trainer.global_step)

    def _discriminator_step(self, opt_d, real, fake, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        ddp = self._ddp("discriminator")
        net = ddp if labels is None else lambda x: ddp(x, labels)  # D judges each image with its label
        stats = {}
        # Real and fake go through D in separate batches (separate BatchNorm statistics, as in the
        # tutorial), each forward followed by its backward; under DDP all but the last backward only
        # accumulate locally and the last all-reduces the sum.
        with ddp.no_sync() if hasattr(ddp, "no_sync") else nullcontext():
            if self.r1_gamma:
                real = real.detach().requires_grad_(True)
            real_out = net(self.augment(real))
            loss_real = self.loss.d_weight * self.loss.d_real(real_out)
            if self.r1_gamma:
                stats["train/r1"] = r1_penalty(real_out, real)
                loss_real = loss_real + 0.5 * self.r1_gamma * stats["train/r1"]
            self.manual_backward(loss_real)
            penalty = self.loss.penalty(net, self.augment(real), self.augment(fake))
            if penalty is not None:
                stats["train/penalty"] = penalty
                self.manual_backward(penalty)
        fake_out = net(self.augment(fake))
        loss_fake = self.loss.d_weight * self.loss.d_fake(fake_out)
        self.manual_backward(loss_fake)
        loss_d = loss_real + loss_fake + (penalty if penalty is not None else 0)
        self._step(opt_d, loss_d, self.discriminator)
        stats.update(
            {
                "train/loss_d": loss_d,
                "train/d_real": self.loss.score(real_out.detach()).mean(),
                "train/d_fake": self.loss.score(fake_out.detach()).mean(),
            }
        )
        says_real, says_fake = self.loss.says_real(real_out), self.loss.says_real(fake_out)
        if says_real is not None:  # the DCGAN lab's discriminator accuracy, on this step's real and fake batch
            stats["train/d_acc_real"] = says_real.float().mean()
            stats["train/d_acc_fake"] = (~says_fake).float().mean()
        return {k: v.detach() for k, v in stats.items()}

    def _generator_step(self, opt_g, fake: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        # D is frozen (toggled) and called without its DDP wrapper: it only passes gradients to G.
        with self.toggled_optimizer(opt_g):
            out = call(self.discriminator, self.augment(fake), labels)
            loss_g = self.loss.g_loss(out)
            self.manual_backward(loss_g)
            self._step(opt_g, loss_g, self.generator)
        return {"train/loss_g": loss_g.detach(), "train/d_fake_after": self.loss.score(out.detach()).mean()}

    def ddp_net_modules(self) -> list[nn.Module]:
        return [getattr(self, name) for name in self.ddp_net_names]

    def _step(self, optimizer, loss: torch.Tensor, net: nn.Module) -> None:
        # on_nonfinite=skip pays one host sync per step to drop the update of a non-finite loss (and the
        # BatchNorm statistics its forward passes gathered); "stop" leaves the check to DivergenceGuard
        # and the checkpoint callback (no per-step sync).
        if self.on_nonfinite == "skip" and not bool(torch.isfinite(loss.detach())):
            self.skipped_steps += 1
            with torch.no_grad():
                for buffer, saved in zip(net.buffers(), self._buffers_before[id(net)], strict=True):
                    buffer.copy_(saved)
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rng_states"] = collect_rng_states()
        checkpoint["parameter_counts"] = self.parameter_counts()

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of each net (stored in every checkpoint, as the face-array tutorial does)."""
        return {name: sum(p.numel() for p in getattr(self, name).parameters()) for name in self.ddp_net_names}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = self.upgrade_state_dict(checkpoint["state_dict"])
        # Older checkpoints kept the loader's own position, which today's loaders (the DataModule keeps the
        # order) cannot take; their data order starts afresh.
        if checkpoint.get("loops", {}).get("fit_loop", {}).get("state_dict", {}).pop("combined_loader", None):
            log.warning("the checkpoint holds its data order in an older form: the data order starts afresh")
        # Applied at the first resumed batch: building the dataloader iterators draws random numbers
        # that an uninterrupted run drew long before.
        self._pending_rng = checkpoint.get("rng_states")

    @staticmethod
    def upgrade_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A state dict of this module as older versions named it, under today's names: the DCGAN
        discriminator was one ``net`` Sequential, now a ``features`` trunk and a ``head``."""
        old = "discriminator.net."
        if not any(k.startswith(old) for k in state_dict) or any(
            k.startswith("discriminator.head.") for k in state_dict
        ):
            return state_dict  # today's names, or the old conv-block critic (another architecture)
        last = max(int(k[len(old) :].split(".")[0]) for k in state_dict if k.startswith(old))

        def renamed(key: str) -> str:
            if not key.startswith(old):
                return key
            index, rest = key[len(old) :].split(".", 1)
            return f"discriminator.head.{rest}" if int(index) == last else f"discriminator.features.{index}.{rest}"

        return {renamed(k): v for k, v in state_dict.items()}

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if self._pending_rng is not None:
            if self.trainer.world_size == 1:
                set_rng_states(self._pending_rng)
            else:  # the checkpoint holds rank 0's states: give every rank its own stream again
                torch.manual_seed(torch.initial_seed() + self.global_rank + self.trainer.global_step)
            self._pending_rng = None

    @property
    def iteration(self) -> int:
        """Iterations trained (batches of d_steps_per_g D steps and one G step), from trainer.global_step."""
        return self.trainer.global_step // (self.d_steps_per_g + 1)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator that makes the pictures: the EMA copy when there is one."""
        return self.generator if self.generator_ema is None else self.generator_ema.module

    def sampling_state_dict(self) -> dict[str, torch.Tensor]:
        """The sampling generator's weights (on CPU) under their names in this module's state dict."""
        prefix = WEIGHT_PREFIX["raw" if self.generator_ema is None else "ema"]
        return {f"{prefix}{k}": v.detach().cpu() for k, v in self.sampling_generator.state_dict().items()}

    @staticmethod
    def generator_weights(state_dict: Mapping[str, torch.Tensor], use_ema: bool = True) -> tuple[dict, str]:
        """(G's weights as ``generator.state_dict()`` names them, which: ``ema`` or ``raw``) from a state dict
        of this module (a checkpoint, or ``sampling_state_dict``): the EMA copy where there is one and
        ``use_ema``, else the trained generator."""
        for which in ("ema", "raw") if use_ema else ("raw",):
            prefix = WEIGHT_PREFIX[which]
            weights = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
            if weights:
                return weights, which
        return {}, "raw"

    @property
    def classes(self) -> list[str]:
        """The class names of a conditional model ([] when unconditional)."""
        return class_names(self.generator)

    @torch.no_grad()
    def sample(self, noise: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] for ``noise`` (default: the fixed noise), G (or its EMA) in eval mode; a
        conditional G draws ``labels`` (default: every class in turn)."""
        noise = self.fixed_noise if noise is None else noise
        if self.conditional and labels is None:
            labels = cycling_labels(len(noise), list(range(len(self.classes))))
        labels = None if labels is None else labels.to(self.device)
        return draw(self.sampling_generator, noise.to(self.device), batch_stats=False, labels=labels)

    def grid_images(self, columns: int = GRID_COLUMNS) -> torch.Tensor:
        """G(fixed noise) in [-1, 1] as the sample grids show it: with ``grid_batch_stats`` the live G on the
        batch's own statistics (the tutorial's grids; G's buffers untouched), the EMA copy in eval mode. A
        conditional G draws one row per class of ``columns`` images: row r = class r, column c = fixed noise c."""
        batch_stats = self.grid_batch_stats and self.generator_ema is None
        noise, labels = self.fixed_noise, None
        if self.conditional:
            noise, labels = class_rows(self.fixed_noise[:columns], len(self.classes))
        return draw(self.sampling_generator, noise, batch_stats, labels)


def call(net: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``net(x)``, or ``net(x, labels)`` for a class-conditional net."""
    return net(x) if labels is None else net(x, labels)


@torch.no_grad()
def draw(net: nn.Module, noise: torch.Tensor, batch_stats: bool, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``net(noise)`` (``net(noise, labels)``) as float images: in train mode with its buffers put back
    afterwards (BatchNorm on the batch's statistics, no side effect on training) or in eval mode (running
    statistics)."""
    was_training = net.training
    net.train(batch_stats)
    try:
        with preserved_buffers(net) if batch_stats else nullcontext():
            return call(net, noise, labels).float()
    finally:
        net.train(was_training)


def _validate_conditional(generator: nn.Module, discriminator: nn.Module, conditional: bool) -> None:
    counts = (num_classes(generator), int(getattr(discriminator, "num_classes", 0) or 0))
    if conditional and (counts[0] < 2 or counts[1] != counts[0]):
        raise ConfigError(
            f"model.conditional=true needs generator.num_classes = discriminator.num_classes >= 2 (here {counts}): "
            "train.py sets both from the dataset's classes"
        )
    if not conditional and any(counts):
        raise ConfigError(f"generator/discriminator.num_classes={counts} need model.conditional=true")


def _validate(generator, discriminator, optimizer_g, optimizer_d, d_steps_per_g, on_nonfinite, r1_gamma):
    if int(d_steps_per_g) < 1:
        raise ConfigError(f"model.d_steps_per_g={d_steps_per_g} is invalid: use an integer >= 1")
    if (generator.image_size, generator.channels) != (discriminator.image_size, discriminator.channels):
        raise ConfigError(
            f"generator makes {generator.channels}x{generator.image_size}px images but the discriminator "
            f"expects {discriminator.channels}x{discriminator.image_size}px: set both from dataset.*"
        )
    if on_nonfinite not in ("stop", "skip"):
        raise ConfigError(f"model.on_nonfinite={on_nonfinite!r} is invalid: use 'stop' or 'skip'")
    if float(r1_gamma) < 0:
        raise ConfigError(f"model.r1_gamma={r1_gamma} is invalid: use 0 (off) or a positive weight")
    for key, factory, net in (("optimizer_g", optimizer_g, generator), ("optimizer_d", optimizer_d, discriminator)):
        try:  # build once now, so a bad lr or beta stops the run before the Trainer starts
            optimizer = factory(net.parameters())
        except (ValueError, TypeError, RuntimeError) as error:
            raise ConfigError(f"{key}: {error} (fix {key}.* in the config)") from None
        for name, value in optimizer.param_groups[0].items():  # lr=inf passes torch's checks, then diverges
            values = value if isinstance(value, tuple | list) else (value,)
            if name != "params" and not all(math.isfinite(v) for v in values if isinstance(v, int | float)):
                raise ConfigError(f"{key}.{name}={value} is not finite: use a finite number")


def _validate_ema(halflife_kimg, rampup) -> None:
    if float(halflife_kimg) < 0:
        raise ConfigError(f"model.ema_halflife_kimg={halflife_kimg} is invalid: use 0 (no EMA) or a positive half-life")
    if rampup is not None and float(rampup) <= 0:
        raise ConfigError(f"model.ema_rampup={rampup} is invalid: use a positive share (0.05) or null (no ramp-up)")
