"""Visualisation: image grids, reconstructions, samples, interpolations, latent traversals and
training curves. Everything is headless (Pillow, and matplotlib's Agg backend)."""

from vaekit.viz.curves import plot_training_curves, read_metrics_csv
from vaekit.viz.grid import make_grid, save_gif, save_image_grid
from vaekit.viz.interpolation import interpolate, save_interpolations
from vaekit.viz.reconstructions import save_reconstructions
from vaekit.viz.samples import save_samples
from vaekit.viz.traversal import latent_traversal, order_by_kl, save_traversal

__all__ = [
    "interpolate",
    "latent_traversal",
    "make_grid",
    "order_by_kl",
    "plot_training_curves",
    "read_metrics_csv",
    "save_gif",
    "save_image_grid",
    "save_interpolations",
    "save_reconstructions",
    "save_samples",
    "save_traversal",
]
