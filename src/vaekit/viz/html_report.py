"""One self-contained HTML file about a training run, to share or archive.

Everything is inside the file (figures as base64 ``data:`` URIs, styles inline, no scripts), so
it opens offline in any browser and can be mailed as it is:

    summary          model, steps, time, versions (run.json)
    config           config.yaml as written by vaekit train
    training curves  from logs/metrics.csv
    metrics          run.json's final metrics, and any metrics JSON in the run folder
    disentanglement  headline scores and what each latent dimension captures (if evaluated)
    figures          latent traversal, samples, reconstructions, interpolation
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from vaekit.errors import CheckpointError, VaekitError
from vaekit.viz.curves import plot_training_curves
from vaekit.viz.interpolation import save_interpolations
from vaekit.viz.reconstructions import save_reconstructions
from vaekit.viz.report import first_examples
from vaekit.viz.samples import save_samples
from vaekit.viz.traversal import save_traversal

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE

MODEL_DIR = "model"  # vaekit.training.run.MODEL_DIR; not imported, to spare Lightning's import
MAX_TRAVERSAL_DIMS = 64  # one row per dimension: beyond this the figure is unreadable
_SKIP_DIRS = ("logs", "checkpoints", MODEL_DIR, "disentanglement")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd;
       padding-bottom: .2rem; margin-top: 2rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; font-size: .85rem; }
img { max-width: 100%; height: auto; image-rendering: pixelated; }
img.plot { image-rendering: auto; }
.note { color: #666; font-style: italic; }
nav a { margin-right: 1rem; }
"""


def check_run_dir(path: str | Path) -> Path:
    """``path`` if it is a run directory written by ``vaekit train`` (``config.yaml`` and
    ``model/``); otherwise :class:`~vaekit.errors.CheckpointError` saying what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"run directory not found: '{path}'")
    missing = [name for name in ("config.yaml", f"{MODEL_DIR}/config.json")
               if not (path / name).is_file()]
    if missing:
        raise CheckpointError(
            f"'{path}' is not a vaekit run directory (no {' or '.join(missing)}); pass the "
            "run_dir that vaekit train wrote"
        )
    return path


def build_html_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    data: Dataset | None = None,
    seed: int = 0,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``).

    ``data`` (default: the validation data of the run's config, when it can be built) gives
    the reconstructions, the interpolation and the traversal's starting point; without data
    those use a decoded prior sample or are left out, with a note in the report.
    """
    from vaekit.checkpoint import load_pretrained

    run = check_run_dir(run_dir)
    out = Path(out) if out is not None else run / "report.html"
    model = load_pretrained(run / MODEL_DIR)
    notes: list[str] = []
    if data is None:
        data = _run_data(run, notes)
    meta = _read_json(run / "run.json") or {}
    disentanglement = _disentanglement_results(run)
    sections = [
        ("Summary", _summary(run, model, meta)),
        ("Config", f"<pre>{_esc((run / 'config.yaml').read_text())}</pre>"),
        ("Training curves", _curves(run)),
        ("Metrics", _metrics(run, meta)),
        ("Disentanglement", _disentanglement(run, disentanglement)),
        ("Figures", _figures(model, data, seed, disentanglement, notes)),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_page(f"vaekit report: {run.resolve().name}", sections, notes),
                   encoding="utf-8")
    return out


# ------------------------------------------------------------------------------ reading
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_data(run: Path, notes: list[str]) -> Dataset | None:
    """The run's validation set (else its training set), or None with a note why not."""
    try:
        from vaekit.training.config import load_experiment
        from vaekit.training.data import train_val_datasets

        config = load_experiment(run / "config.yaml")
        train_set, val_set = train_val_datasets(config.data, config.train.seed)
        return val_set if val_set is not None else train_set
    except (VaekitError, OSError) as err:
        notes.append(f"the run's data is not available ({err}); figures that need data are "
                     "drawn from prior samples or left out")
        return None


def _disentanglement_results(run: Path) -> dict[str, dict[str, Any]]:
    """``{file name: results}`` of the JSON files in ``RUN_DIR/disentanglement/``."""
    folder = run / "disentanglement"
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        results = _read_json(path)
        if isinstance(results, dict):
            found[path.name] = results
    return found


# ----------------------------------------------------------------------------- sections
def _summary(run: Path, model: BaseVAE, meta: dict[str, Any]) -> str:
    rows = {
        "run directory": str(run.resolve()),
        "model": f"{model.config.config_type} ({type(model).__name__})",
        "latent dimensions": model.latent_dim,
        "data shape": " x ".join(str(s) for s in model.data_shape),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    for key in ("steps", "train_seconds", "started", "seed", "world_size", "vaekit_version",
                "torch_version", "lightning_version", "python_version", "git_commit"):
        if key in meta:
            rows[key.replace("_", " ")] = meta[key]
    return _table(rows.items(), ("", "value"))


def _curves(run: Path) -> str:
    csv_path = run / "logs" / "metrics.csv"
    if not csv_path.is_file():
        return _note("no logs/metrics.csv in this run (train with train.loggers including csv)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            png = plot_training_curves(csv_path, Path(tmp) / "curves.png")
        except VaekitError as err:
            return _note(str(err))
        return _img(png.read_bytes(), "training curves", plot=True)


def _metrics(run: Path, meta: dict[str, Any]) -> str:
    parts = []
    final = meta.get("final_metrics")
    if isinstance(final, dict) and final:
        parts.append("<h3>Final metrics of training (run.json)</h3>" + _table(
            sorted(final.items()), ("metric", "value")))
    extra = [p for p in sorted(run.glob("*.json")) if p.name != "run.json"]
    extra += [p for p in sorted(run.glob("*/metrics.json")) if p.parent.name not in _SKIP_DIRS]
    for path in extra:
        results = _read_json(path)
        if isinstance(results, dict):
            parts.append(f"<h3>{_esc(str(path.relative_to(run)))}</h3>"
                         + _table(_flatten(results), ("metric", "value")))
    return "".join(parts) or _note("no metrics found (run.json has no final_metrics)")


def _disentanglement(run: Path, found: dict[str, dict[str, Any]]) -> str:
    from vaekit.evaluation.disentanglement.report import headline_scores

    if not found:
        return _note("not evaluated (vaekit evaluate RUN_DIR --disentanglement)")
    parts = []
    for name, results in found.items():
        parts.append(f"<h3>disentanglement/{_esc(name)}</h3>")
        try:
            scores = headline_scores(results)
        except (KeyError, TypeError, ValueError):  # a JSON file of another shape
            scores = {}
        if scores:
            parts.append(_table(scores.items(), ("metric", "score")))
        kl, labels = results.get("kl_per_dim"), results.get("dim_labels")
        if isinstance(kl, list) and isinstance(labels, list) and len(kl) == len(labels):
            parts.append(_table(((f"z{d}", k, label) for d, (k, label) in
                                 enumerate(zip(kl, labels))), ("dim", "KL (nats)", "captures")))
    for figure in ("mi_heatmap.png", "latent_scatter.png"):
        path = run / "disentanglement" / figure
        if path.is_file():
            parts.append(_img(path.read_bytes(), figure, plot=True))
    return "".join(parts)


def _figures(model: BaseVAE, data: Dataset | None, seed: int,
             disentanglement: dict[str, dict[str, Any]], notes: list[str]) -> str:
    x = first_examples(data, 256) if data is not None else None
    labels = next((r["dim_labels"] for r in disentanglement.values()
                   if _valid_labels(r.get("dim_labels"), model.latent_dim)), None)
    makers: dict[str, Callable[[Path], Path]] = {
        "Latent traversal": lambda path: _traversal(model, x, path, seed, labels, notes),
        "Samples": lambda path: save_samples(model, 64, path, seed=seed),
    }
    if x is not None:
        makers["Reconstructions"] = lambda path: save_reconstructions(model, x[:16], path,
                                                                       nrow=8)
    if x is not None and len(x) >= 2:
        makers["Interpolation"] = lambda path: save_interpolations(model, x[:1], x[1:2], path)
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (title, make) in enumerate(makers.items()):
            parts.append(f"<h3>{_esc(title)}</h3>")
            try:
                png = make(Path(tmp) / f"figure{i}.png")
            except (VaekitError, ValueError) as err:
                parts.append(_note(f"not drawn: {err}"))
                continue
            parts.append(_img(png.read_bytes(), title))
    return "".join(parts)


def _valid_labels(labels: Any, latent_dim: int) -> bool:
    return isinstance(labels, list) and len(labels) == latent_dim


def _traversal(model: BaseVAE, x: torch.Tensor | None, path: Path, seed: int,
               labels: list[str] | None, notes: list[str]) -> Path:
    from vaekit.evaluation.latents import kl_per_dimension

    if model.latent_dim > MAX_TRAVERSAL_DIMS:
        raise ValueError(f"{model.latent_dim} latent dimensions are too many rows "
                         f"(at most {MAX_TRAVERSAL_DIMS})")
    if x is None:
        # Without data, start from decoded prior samples: they are inputs the model knows.
        generator = torch.Generator().manual_seed(seed)
        model.eval()
        x = model.sample(64, generator=generator)
        notes.append("the traversal starts from a decoded prior sample (no data)")
    kl = kl_per_dimension(model, x)
    return save_traversal(model, x[:1], path, kl_per_dim=kl, dim_names=labels)


# ------------------------------------------------------------------------------ HTML
def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _note(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


def _img(png: bytes, alt: str, plot: bool = False) -> str:
    data = base64.b64encode(png).decode("ascii")
    if plot:
        return f'<img class="plot" alt="{_esc(alt)}" src="data:image/png;base64,{data}">'
    # Grids of 8x8 or 64x64 images are small: show them enlarged by a whole factor (up to
    # about 600 pixels wide), which pixelated rendering keeps sharp.
    with Image.open(io.BytesIO(png)) as image:
        width = image.width
    scale = max(1, min(8, 600 // max(width, 1)))
    return (f'<img width="{width * scale}" alt="{_esc(alt)}" '
            f'src="data:image/png;base64,{data}">')


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, list):
        if len(value) <= 16 and all(isinstance(v, (int, float, str)) for v in value):
            return ", ".join(_format(v) for v in value)
        return f"[{len(value)} values]"
    return str(value)


def _flatten(results: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metric dicts as ``("dci.completeness", 0.71)`` rows."""
    rows = []
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flatten(value, f"{name}.")
        else:
            rows.append((name, value))
    return rows


def _table(rows: Iterable[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_esc(_format(v))}</td>' if isinstance(v, (int, float))
            and not isinstance(v, bool) else f"<td>{_esc(_format(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, sections: list[tuple[str, str]], notes: list[str]) -> str:
    anchors = [title_.lower().replace(" ", "-") for title_, _ in sections]
    nav = "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, (t, _) in zip(anchors, sections))
    body = "".join(f'<h2 id="{a}">{_esc(t)}</h2>{content}'
                   for a, (t, content) in zip(anchors, sections))
    note_html = "".join(_note(n) for n in notes)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{_esc(title)}</h1><p>written {stamp} by vaekit report</p>"
            f"<nav>{nav}</nav>{note_html}{body}</body></html>\n")
