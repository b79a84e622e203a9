"""Latents: seeded (and truncated) draws, and linear or spherical (slerp, White 2016) paths between them."""

from __future__ import annotations

import torch

from dcgan.errors import ConfigError


def latents(n: int, nz: int, seed: int, truncation: float | None = None) -> torch.Tensor:
    """(n, nz) standard normal latents from ``seed`` (on CPU, so every device gets the same ones). With
    ``truncation`` t, a normal truncated to [-t, t] (the truncation trick)."""
    generator = torch.Generator().manual_seed(int(seed))
    if truncation is None:
        return torch.randn(int(n), int(nz), generator=generator)
    if not truncation > 0:
        raise ConfigError(f"truncation={truncation} is invalid: use a positive number (e.g. 0.7) or null")
    z = torch.empty(int(n), int(nz))
    return torch.nn.init.trunc_normal_(z, 0.0, 1.0, -truncation, truncation, generator=generator)


def class_rows(z: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs of a grid with one row per class: (C, nz) latents -> (K * C, nz) latents and (K * C,)
    labels, row r = class r, column c = latent c (each latent drawn once in every class)."""
    return z.repeat(int(num_classes), 1), torch.arange(int(num_classes), device=z.device).repeat_interleave(len(z))


def cycling_labels(n: int, classes: list[int]) -> torch.Tensor:
    """(n,) int64 labels going through ``classes`` in turn: [0, 3] -> 0, 3, 0, 3, ..."""
    return torch.tensor(classes, dtype=torch.long).repeat(-(-int(n) // len(classes)))[: int(n)]


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(P, nz), (P, nz), (S,) -> (P, S, nz): straight lines from z0 to z1."""
    t = t.to(z0)[None, :, None]
    return (1 - t) * z0[:, None] + t * z1[:, None]


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(P, nz), (P, nz), (S,) -> (P, S, nz): great-circle arcs from z0 to z1 (the norm changes linearly
    in between, so samples stay where a Gaussian latent has its mass); lerp for (anti)parallel pairs."""
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=-1).clamp(-1, 1)
    omega = torch.arccos(cos)[:, None]  # (P, 1)
    sin = torch.sin(omega)
    t = t.to(z0)[None, :]  # (1, S)
    parallel = sin.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    w0 = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe)
    w1 = torch.where(parallel, t, torch.sin(t * omega) / safe)
    return w0[..., None] * z0[:, None] + w1[..., None] * z1[:, None]


METHODS = {"lerp": lerp, "slerp": slerp}


def interpolation_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """Latents for a grid with one interpolation per row, ``steps`` columns from z0 to z1 (both ends
    included): (rows * steps, nz). ``method`` is ``lerp``, ``slerp`` or ``both`` (a lerp row then a
    slerp row per pair, for comparison)."""
    methods = list(METHODS) if method == "both" else [method]
    if any(m not in METHODS for m in methods):
        raise ConfigError(f"interpolation.method={method!r} is not supported: use lerp, slerp or both")
    if int(steps) < 2:
        raise ConfigError(f"interpolation.steps={steps} is invalid: use 2 or more")
    t = torch.linspace(0, 1, int(steps))
    paths = torch.stack([METHODS[m](z0, z1, t) for m in methods], dim=1)  # (P, methods, S, nz)
    return paths.reshape(-1, z0.shape[-1])


def walk(z0: torch.Tensor, z1: torch.Tensor, t: float, method: str = "slerp") -> torch.Tensor:
    """(nz,), (nz,) -> (nz,): the point a fraction ``t`` of the way from z0 to z1 (``lerp`` or ``slerp``)."""
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is not supported: use lerp or slerp")
    return METHODS[method](z0[None], z1[None], torch.tensor([float(t)]))[0, 0]


def nudge(z: torch.Tensor, dim: int, amount: float) -> torch.Tensor:
    """A copy of the latent ``z`` (nz,) with ``amount`` added to its dimension ``dim``."""
    if not 0 <= int(dim) < z.shape[-1]:
        raise ConfigError(f"dimension {dim} does not exist: a latent has dimensions 0 to {z.shape[-1] - 1}")
    z = z.clone()
    z[..., int(dim)] += float(amount)
    return z


def ping_pong(frames: list) -> list:
    """Frames forth and back (without repeating the ends), for a GIF that loops smoothly."""
    return frames + frames[-2:0:-1]
