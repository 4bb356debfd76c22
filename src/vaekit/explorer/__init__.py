"""A local web app for exploring a model's latent space in the browser.

``vaekit serve CHECKPOINT_DIR`` serves one page with a slider per active latent dimension, live
decoding, random sampling, encoding an uploaded image and interpolation; see
:func:`~vaekit.explorer.app.create_app` for the JSON API.
"""

from vaekit.explorer.app import create_app
from vaekit.explorer.dims import Slider, active_dimensions, make_sliders, read_dimension_labels
from vaekit.explorer.server import serve
from vaekit.explorer.session import Explorer
from vaekit.explorer.validation import RequestError

__all__ = [
    "Explorer",
    "RequestError",
    "Slider",
    "active_dimensions",
    "create_app",
    "make_sliders",
    "read_dimension_labels",
    "serve",
]
