"""Pictures as files: smoothed loss curves, the progress GIF."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from dcgan.callbacks.pictures import HISTORY_KEYS
from dcgan.checkpoints import load_generator
from dcgan.images import (
    TITLE_PX,
    by_class,
    evenly_spaced,
    grid_image,
    loss_figure,
    real_vs_fake,
    render,
    sample_grid,
    smooth,
    to_uint8,
    write_loss_plot,
    write_progress_gif,
)
from tests.helpers import has_text, image_info


def test_smoothing():
    values = np.array([1.0, 1.0, 5.0, 5.0])
    np.testing.assert_allclose(smooth(np.full(5, 3.0), 0.9), 3.0)  # no start-up bias towards 0
    np.testing.assert_allclose(smooth(values, 0.0), values)
    smoothed = smooth(values, 0.5)
    assert smoothed[0] == 1.0 and 1.0 < smoothed[2] < smoothed[3] < 5.0


def test_progress_gif_keeps_first_and_last_frames(tmp_path):
    for step, shade in ((0, 0), (4, 100), (8, 200), (12, 255)):
        Image.new("RGB", (10, 6), (shade,) * 3).save(tmp_path / f"step_{step:07d}.png")
    assert write_progress_gif(tmp_path, tmp_path / "all.gif", 200) == 4
    assert write_progress_gif(tmp_path, tmp_path / "three.gif", 200, max_frames=3) == 3
    with Image.open(tmp_path / "three.gif") as gif:
        assert gif.size == (10, 6)
        shades = [gif.seek(i) or gif.convert("L").getpixel((0, 0)) for i in range(gif.n_frames)]
    assert shades[0] == 0 and shades[-1] == 255
    assert evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert write_progress_gif(tmp_path / "none", tmp_path / "empty.gif", 200) == 0
    assert not (tmp_path / "empty.gif").exists()


def test_loss_plot_needs_history(tmp_path):
    assert not write_loss_plot({"iteration": np.array([])}, tmp_path / "empty.png", 0.9)
    history = {"iteration": np.arange(1, 4.0), "train/loss_d": np.ones(3), "train/loss_g": np.ones(3)}
    assert write_loss_plot(history, tmp_path / "losses.png", 0.9)
    assert image_info(tmp_path / "losses.png")[0] == (600, 400)  # one panel: no D(x) history given


def test_loss_curves_run_over_iterations_with_labelled_axes():
    history = {"iteration": np.arange(1, 5.0), **{key: np.linspace(0, 1, 4) for key in HISTORY_KEYS}}
    fig = loss_figure(history, 0.0)
    for ax, ylabel in zip(fig.axes, ("loss", "mean D output (batch)"), strict=True):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("iteration", ylabel)
        assert all(list(line.get_xdata()) == [1, 2, 3, 4] for line in ax.get_lines())
    assert [ax.get_legend_handles_labels()[1] for ax in fig.axes] == [["D loss", "G loss"], ["D(x)", "D(G(z))"]]


def test_titles_and_headings_are_drawn_on_the_pictures():
    images = torch.rand(16, 1, 16, 16) * 2 - 1
    grid = sample_grid(images, 8, iteration=7)
    assert grid.size == (8 * 18 + 2, 2 * 18 + 2 + TITLE_PX + 8)
    assert has_text(grid, (0, 0, grid.width, TITLE_PX + 8))
    np.testing.assert_array_equal(np.asarray(grid)[TITLE_PX + 8 :], np.asarray(grid_image(to_uint8(images), 8)))
    assert (
        np.asarray(sample_grid(images, 8, iteration=8))[: TITLE_PX + 8].tobytes()
        != np.asarray(grid)[: TITLE_PX + 8].tobytes()
    )
    picture = real_vs_fake(torch.full((16, 1, 16, 16), -1.0), torch.ones(16, 1, 16, 16), nrow=8)
    half = grid.width
    assert picture.size == (2 * half + 8, grid.height)
    assert has_text(picture, (0, 0, half, TITLE_PX + 8)) and has_text(
        picture, (half + 8, 0, picture.width, TITLE_PX + 8)
    )
    pixels = np.asarray(picture.convert("L"))[TITLE_PX + 8 :]
    assert pixels[2:8, 2:8].max() == 0 and pixels[2:8, half + 10 : half + 16].min() == 255  # black real, white fake


def test_render_hands_a_conditional_generator_its_labels_batch_by_batch(conditional_checkpoint):
    g = load_generator(conditional_checkpoint).net  # a model.conditional=true run's G
    z, labels = torch.randn(7, 100, generator=torch.Generator().manual_seed(0)), torch.tensor([2, 0, 1, 1, 0, 9, 9])
    with torch.no_grad():
        expected = to_uint8(g(z, labels))
    assert torch.equal(render(g, z, 3, labels=labels), expected)  # batches of 3, 3 and 1
    assert not torch.equal(render(g, z, 3, labels=labels.flip(0)), expected)


def test_a_class_grid_names_its_rows_and_sorts_real_images_into_them():
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 4, 4) * 40 + 10
    sorted_ = by_class(images, torch.tensor([2, 0, 2, 2, 1, 0]), num_classes=3, columns=2)
    assert sorted_[:, 0, 0, 0].tolist() == [50, 210, 170, 0, 10, 90]  # class 2 had three: the first two shown
    fake = torch.rand(6, 1, 4, 4) * 2 - 1
    picture = real_vs_fake(images.float() / 127.5 - 1, fake, nrow=2, classes=["zero", "one", "two"],
                           real_labels=torch.tensor([2, 0, 2, 2, 1, 0]))  # fmt: skip
    grid = 2 * 6 + 2  # 2 cells of 4px, 2px padding
    band = picture.width - 8 - 2 * grid  # the row names, left of the real grid
    assert band > 10 and picture.height == TITLE_PX + 8 + 3 * 6 + 2
    pixels = np.asarray(picture.convert("L")).astype(int)[TITLE_PX + 8 :]
    real, right = pixels[:, band : band + grid], pixels[:, band + grid + 8 :]
    assert [real[2 + 6 * r, 2 + 6 * c] for r in range(3) for c in range(2)] == [50, 210, 170, 0, 10, 90]
    np.testing.assert_array_equal(right, np.asarray(grid_image(to_uint8(fake), 2).convert("L")))
    named = sample_grid(fake, 2, iteration=3, classes=["zero", "one", "two"])
    assert named.width == band + grid and has_text(named, (0, TITLE_PX + 8, band, named.height))
