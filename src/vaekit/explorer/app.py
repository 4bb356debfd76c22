"""The Flask app: one page and a small JSON API over an :class:`~vaekit.explorer.Explorer`.

    GET  /                 the page (HTML + vanilla JS, shipped as package data)
    GET  /api/info         model type, latent size, data shape, the sliders and their labels
    POST /api/decode       {"z": [D numbers]}                    -> {"image": PNG data URI}
    POST /api/sample       {"seed": int} (optional)              -> {"z", "seed", "image"}
    POST /api/encode       multipart field "image"               -> {"z", "image", "input",
                                                                     "resized", "notes"}
    POST /api/interpolate  multipart "image_a" + "image_b", or JSON {"z_a", "z_b"}, or JSON
                           {"seed"} for two random points; "steps" (2-32, default 8)
                                                                 -> {"frames", "strip", "z_a",
                                                                     "z_b", "notes"}

Every error is JSON ``{"error": message}`` with a 4xx/5xx status, and the app keeps serving.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from flask import Flask, Request, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vaekit.errors import ShapeError
from vaekit.explorer.dims import KL_THRESHOLD, make_sliders
from vaekit.explorer.images import (
    MAX_UPLOAD_BYTES,
    check_upload_size,
    data_uri,
    describe_bytes,
    load_image,
    png_bytes,
    strip_png,
)
from vaekit.explorer.session import Z_LIMIT, Explorer
from vaekit.explorer.validation import RequestError, parse_int, parse_latent

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE

log = logging.getLogger(__name__)

MAX_STEPS = 32
# Room for the multipart framing around an upload of exactly the limit.
_FORM_OVERHEAD = 64 * 2**10
_SEED_MAX = 2**62  # seed + 1 (the second random point) still fits in 64 bits
# The page only loads itself and data: images; nothing from elsewhere.
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; connect-src 'self'")


class InMemoryRequest(Request):
    """Keeps uploaded files in memory (they are bounded by ``MAX_CONTENT_LENGTH``) instead of
    Werkzeug's temporary files: nothing from a request is written to disk."""

    def _get_file_stream(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO()


def page_html() -> str:
    """The explorer page, read from the package data."""
    return resources.files("vaekit.explorer").joinpath("static/index.html").read_text("utf-8")


def create_app(
    model: BaseVAE,
    labels: Sequence[str] | None = None,
    kl_per_dim: Sequence[float] | np.ndarray | None = None,
    *,
    kl_threshold: float = KL_THRESHOLD,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    z_limit: float = Z_LIMIT,
) -> Flask:
    """A Flask app exploring ``model``'s latent space (see the module docstring for routes).

    ``kl_per_dim`` (nats, one per latent) picks the dimensions that get a slider (those above
    ``kl_threshold``, highest first; all when omitted); ``labels`` (one per latent, e.g. from
    :func:`~vaekit.explorer.dims.read_dimension_labels`) name what each captures.
    Image models, and sequence models (the audio hook); vectors are a :class:`ShapeError`.
    """
    if len(model.data_shape) not in (2, 3):
        raise ShapeError(
            f"the latent explorer shows images, and this model's data have shape "
            f"{tuple(model.data_shape)}; use vaekit sample / traverse with --out FILE.csv to "
            "see its outputs"
        )
    sliders = make_sliders(model.latent_dim, kl_per_dim, labels, kl_threshold)
    explorer = Explorer(model, sliders, z_limit=z_limit)
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = max_upload_bytes + _FORM_OVERHEAD
    app.extensions["vaekit_explorer"] = explorer
    _add_page_routes(app, explorer, max_upload_bytes)
    _add_api_routes(app, explorer, max_upload_bytes)
    _add_error_handlers(app, max_upload_bytes)
    return app


def _add_page_routes(app: Flask, explorer: Explorer, max_upload_bytes: int) -> None:
    html = page_html()

    @app.get("/")
    def index() -> Response:
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = _CSP
        return response

    @app.get("/api/info")
    def info() -> Response:
        return jsonify({**explorer.info(), "max_upload_bytes": max_upload_bytes,
                        "max_steps": MAX_STEPS})


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise RequestError("the request body is not valid JSON (send Content-Type: "
                           "application/json)")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise RequestError("the JSON body must be an object, e.g. {\"z\": [...]}")
    return body


def _upload(name: str, max_upload_bytes: int) -> bytes:
    # Only the bytes are used: the client's file name never reaches the file system.
    file = request.files.get(name)
    if file is None:
        raise RequestError(f"no file in the multipart/form-data field '{name}'")
    data = file.read(max_upload_bytes + 1)
    check_upload_size(data, max_upload_bytes)
    return data


def _add_api_routes(app: Flask, explorer: Explorer, max_upload_bytes: int) -> None:
    def latent(body: dict[str, Any], key: str) -> torch.Tensor:
        if key not in body:
            raise RequestError(f"missing '{key}': send {{\"{key}\": [{explorer.latent_dim} "
                               "numbers]}")
        return parse_latent(body[key], explorer.latent_dim, explorer.z_limit, key)

    def encode_upload(name: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        explorer.require_images()
        x, notes = load_image(_upload(name, max_upload_bytes), explorer.model.data_shape)
        z, clip_notes = explorer.encode(x)
        return x, z, notes + clip_notes

    @app.post("/api/decode")
    def decode() -> Response:
        z = latent(_json_body(), "z")
        return jsonify(image=data_uri(png_bytes(explorer.decode(z[None])[0])))

    @app.post("/api/sample")
    def sample() -> Response:
        body = _json_body()
        seed = parse_int(body.get("seed"), "seed", 0, _SEED_MAX,
                         default=secrets.randbelow(2**31))
        z = explorer.sample(seed)
        return jsonify(z=z.tolist(), seed=seed,
                       image=data_uri(png_bytes(explorer.decode(z[None])[0])))

    @app.post("/api/encode")
    def encode() -> Response:
        x, z, notes = encode_upload("image")
        return jsonify(z=z.tolist(), image=data_uri(png_bytes(explorer.decode(z[None])[0])),
                       input=data_uri(png_bytes(x)), resized=any("resized" in n for n in notes),
                       notes=notes)

    @app.post("/api/interpolate")
    def interpolate() -> Response:
        if request.files:
            steps = parse_int(request.form.get("steps"), "steps", 2, MAX_STEPS, default=8)
            _, z_a, notes_a = encode_upload("image_a")
            _, z_b, notes_b = encode_upload("image_b")
            notes = [f"image A: {n}" for n in notes_a] + [f"image B: {n}" for n in notes_b]
        else:
            body = _json_body()
            steps = parse_int(body.get("steps"), "steps", 2, MAX_STEPS, default=8)
            if "z_a" in body or "z_b" in body:
                z_a, z_b, notes = latent(body, "z_a"), latent(body, "z_b"), []
            else:
                seed = parse_int(body.get("seed"), "seed", 0, _SEED_MAX,
                                 default=secrets.randbelow(2**31))
                z_a, z_b = explorer.sample(seed), explorer.sample(seed + 1)
                notes = [f"two random points (seeds {seed} and {seed + 1})"]
        frames = explorer.interpolate(z_a, z_b, steps)
        return jsonify(frames=[data_uri(png_bytes(f)) for f in frames],
                       strip=data_uri(strip_png(frames)), z_a=z_a.tolist(), z_b=z_b.tolist(),
                       notes=notes)


def _add_error_handlers(app: Flask, max_upload_bytes: int) -> None:
    @app.errorhandler(RequestError)
    def bad_request(err: RequestError) -> tuple[Response, int]:
        return jsonify(error=str(err)), err.status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> tuple[Response, int]:
        if isinstance(err, RequestEntityTooLarge):
            message = f"the request is over the {describe_bytes(max_upload_bytes)} upload limit"
        elif err.code == 404:
            message = f"no such route: {request.path}"
        elif err.code == 405:
            message = f"{request.method} is not allowed on {request.path}"
        else:
            message = err.description or err.name
        return jsonify(error=message), err.code or 500

    @app.errorhandler(Exception)
    def internal_error(err: Exception) -> tuple[Response, int]:
        # A bug or a model failure: log the traceback, answer, and keep serving.
        log.exception("explorer request failed")
        return jsonify(error=f"internal error: {type(err).__name__}: {err}"), 500
