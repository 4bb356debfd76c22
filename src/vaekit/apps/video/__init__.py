"""Video prediction: stochastic video generation (SVG-LP / SVG-FP, Denton & Fergus 2018).

Importing this package (the registry does, with the built-ins) registers the ``svg`` model and
the clip datasets ``moving_mnist`` (Stochastic Moving MNIST), ``moving_dsprites`` and
``video_clips`` (real video files via PyAV); batches are clips ``(B, T, C, H, W)``.
"""

from vaekit.apps.video import moving_dsprites, moving_mnist, svg, video_files  # noqa: F401
from vaekit.apps.video.svg import SVG, SVGConfig

__all__ = ["SVG", "SVGConfig"]
