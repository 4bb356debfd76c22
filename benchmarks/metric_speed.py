"""Question: how fast is vaekit's disentanglement metric suite against the reference
implementation (google-research/disentanglement_lib, Locatello et al. 2019, ICML), at
disentanglement_lib's default sizes on the same codes, and do both give the same scores?

Protocol (printed and stored with the results):
- ground truth: dSprites' factor grid (shape 3, scale 6, orientation 40, posX 32, posY 32
  values; ``vaekit.data.dsprites.FACTOR_SIZES``). An observation is the row of factor indices
  itself (no images are rendered: the benchmark times the metrics, not an encoder);
- the representation, identical in both implementations: 10 codes; code ``k < 5`` is factor
  ``k`` rescaled to [-1, 1] plus 0.5 times factor ``k + 1`` (cyclic) plus 0.7 times fixed
  Gaussian noise (mixed and noisy enough that no score saturates at 1); codes 5-9 are 0.02
  times fixed noise (collapsed dimensions, below FactorVAE's pruning threshold of 0.05). The
  noise is a seeded table with one row per grid point, so the representation is a
  deterministic function of the observation;
- sizes: disentanglement_lib's study configs (``config/unsupervised_study_v1/metric_configs``;
  IRS from ``config/sample/irs``): BetaVAE 10,000 train / 5,000 eval points of 64 pairs;
  FactorVAE 10,000 variance points, 10,000 train / 5,000 eval votes of 64; MIG 10,000; DCI,
  SAP (discrete), modularity/explicitness 10,000 train / 5,000 test; IRS 10,000; 20 histogram
  bins; FactorVAE prune threshold 0.05. ``--scale s`` multiplies every point count by ``s``;
- same codes: for MIG, DCI, SAP, modularity/explicitness and IRS both implementations get the
  same factor draws (the adapter replays one seeded stream of factor rows, whatever random
  state the metric passes), so they score identical arrays and should agree to rounding (DCI's
  trees may break ties differently: disentanglement_lib leaves ``random_state`` unset). BetaVAE
  and FactorVAE also draw which factor to intervene on from their own random state
  (``np.random.RandomState(0)`` in disentanglement_lib, ``np.random.default_rng(0)`` in vaekit),
  so there both sample the same distribution but different points, and the scores agree only
  up to sampling noise;
- time: wall-clock and CPU time (``time.process_time``) of one call of each implementation's
  ``compute_*`` function (sampling, representation and scoring; each with its own default
  encoder batch size), one thread each (``threadpoolctl`` and ``*_NUM_THREADS=1``), under
  ``nice``. On a shared machine the CPU times are the fairer comparison: wall-clock includes
  the time other processes held the cores. The reference runs in a subprocess with the python
  of a separate venv holding the same numpy / scipy / scikit-learn versions as vaekit's; its
  import time is not counted. DCI is timed for vaekit's
  reference-compatible path and its ``fast=True`` path.
- not run against the reference: ``mig_chen`` (Chen et al. 2018's sampled estimator over the
  full factor grid): disentanglement_lib has no implementation of it (its MIG is the
  discretised one timed here); the original code (rtqichen/beta-tcvae) needs the encoder's
  posterior of every one of the 737,280 grid points and a GPU.

Setup (once; needs the disentanglement_lib source fetched onto this machine, e.g. with the
project's ``fetch`` tool for ``github:google-research/disentanglement_lib``, or any clone):

    python benchmarks/metric_speed.py --setup [--mirror GIT_DIR]

creates ``benchmarks/.venv-dlib`` (gitignored) with numpy, scipy, scikit-learn pinned to this
venv's versions plus ``gin-config==0.4.0`` (the last release that accepts
disentanglement_lib's ``blacklist=`` argument), ``absl-py`` and ``six``, and unpacks only
``disentanglement_lib/evaluation/metrics`` (and the package ``__init__`` files) of the mirror's
HEAD to ``/tmp/disentanglement_lib-src`` (outside the repository; nothing of it is committed).
TensorFlow is not needed: ``gin.tf`` is replaced by a stand-in module before the metric modules
are imported, and the study's gin bindings are set with ``gin.bind_parameter``.

Run:  nice -n 15 python benchmarks/metric_speed.py              (default sizes: 16-22 min
                                                                  on 2 shared CPU cores; DCI's
                                                                  reference path is ~95% of it)
      nice -n 15 python benchmarks/metric_speed.py --scale 0.1  (smoke run, about a minute)
Writes benchmarks/results/metric_speed.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_VENV = HERE / ".venv-dlib"
DEFAULT_SRC = Path("/tmp/disentanglement_lib-src")
DEFAULT_MIRROR = Path("/work/.mirror/google-research+disentanglement_lib/repo")
DLIB_PATHS = ("LICENSE", "disentanglement_lib/__init__.py",
              "disentanglement_lib/evaluation/__init__.py",
              "disentanglement_lib/evaluation/metrics")

FACTOR_SIZES = (3, 6, 40, 32, 32)  # vaekit.data.dsprites.FACTOR_SIZES (checked in main)
NUM_CODES = 10
NUM_BINS = 20
PRUNE_THRESHOLD = 0.05
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# disentanglement_lib's study sizes per metric (scaled by --scale); "replay": same factor draws
METRICS: dict[str, dict[str, Any]] = {
    "beta_vae_score": {"sizes": {"num_train": 10000, "num_eval": 5000}, "replay": False,
                       "scores": ("eval_accuracy", "train_accuracy")},
    "factor_vae_score": {"sizes": {"num_train": 10000, "num_eval": 5000,
                                   "num_variance_estimate": 10000}, "replay": False,
                         "scores": ("eval_accuracy", "train_accuracy")},
    "mig": {"sizes": {"num_train": 10000}, "replay": True, "scores": ("discrete_mig",)},
    "dci": {"sizes": {"num_train": 10000, "num_test": 5000}, "replay": True,
            "scores": ("disentanglement", "completeness", "informativeness_train",
                       "informativeness_test")},
    "sap": {"sizes": {"num_train": 10000, "num_test": 5000}, "replay": True,
            "scores": ("SAP_score",)},
    "modularity_explicitness": {"sizes": {"num_train": 10000, "num_test": 5000},
                                "replay": True,
                                "scores": ("modularity_score", "explicitness_score_train",
                                           "explicitness_score_test")},
    "irs": {"sizes": {"num_train": 10000}, "replay": True, "scores": ("IRS",)},
}
NOT_RUN = {
    "mig_chen": "disentanglement_lib has no implementation (its MIG is the discretised one "
                "above); the original (rtqichen/beta-tcvae) needs the posterior of all 737,280 "
                "grid points and a GPU",
}
# |vaekit - reference| allowed per score: identical arrays should agree to rounding; DCI's
# reference trees break ties at random; the resampled metrics differ by sampling noise (two
# independent estimates from 5,000 evaluation points: about 3 standard errors); fast DCI is a
# binned approximation (benchmarks/dci_speed.py measured up to 0.04, informativeness_train).
TOLERANCE = {"replay": 1e-6, "dci": 0.01, "dci_fast": 0.05, "resampled": 0.03}


# ------------------------------------------------------------------ shared by both processes
def represent_array(observations: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Codes ``(n, 10)`` of observations = factor indices ``(n, 5)`` (see the docstring)."""
    factors = np.rint(np.asarray(observations, dtype=np.float64)).astype(np.int64)
    sizes = np.asarray(FACTOR_SIZES)
    unit = 2.0 * factors / (sizes - 1) - 1.0  # (n, 5) in [-1, 1]
    row_noise = noise[np.ravel_multi_index(tuple(factors.T), FACTOR_SIZES)].astype(np.float64)
    codes = np.empty((len(factors), NUM_CODES))
    codes[:, :5] = unit + 0.5 * np.roll(unit, -1, axis=1) + 0.7 * row_noise[:, :5]
    codes[:, 5:] = 0.02 * row_noise[:, 5:]
    return codes


class FactorSource:
    """Draws factor rows uniformly from the grid, or replays a fixed stream of rows."""

    def __init__(self, stream: np.ndarray | None = None) -> None:
        self.stream, self.position = stream, 0

    def draw(self, num: int, random_state: Any) -> np.ndarray:
        if self.stream is not None:
            if self.position + num > len(self.stream):
                raise RuntimeError("the replayed factor stream is too short")
            rows = self.stream[self.position:self.position + num].copy()
            self.position += num
            return rows
        if isinstance(random_state, np.random.RandomState):  # disentanglement_lib
            return np.stack([random_state.randint(s, size=num) for s in FACTOR_SIZES], axis=1)
        return np.stack([random_state.integers(0, s, num) for s in FACTOR_SIZES], axis=1)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def limit_threads() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


# ------------------------------------------------------------------------- reference worker
def reference_worker(spec_path: str) -> None:
    """Runs in the disentanglement_lib venv: times one metric, writes its scores as JSON."""
    spec = json.loads(Path(spec_path).read_text())
    sys.path.insert(0, spec["src"])
    import logging
    import types

    import gin

    logging.disable(logging.WARNING)  # gin 0.4's deprecation warning for ``blacklist``

    gin_tf = types.ModuleType("gin.tf")  # stand-in: the metric modules only use gin itself
    sys.modules["gin.tf"] = gin_tf
    gin.tf = gin_tf
    from disentanglement_lib.evaluation.metrics import (
        beta_vae,
        dci,
        factor_vae,
        irs,
        mig,
        modularity_explicitness,
        sap_score,
        utils,
    )

    # the study's bindings (metric_configs/*.gin)
    gin.bind_parameter("discretizer.discretizer_fn", utils._histogram_discretize)
    gin.bind_parameter("discretizer.num_bins", NUM_BINS)
    gin.bind_parameter("prune_dims.threshold", PRUNE_THRESHOLD)

    data = np.load(spec["data"])
    noise = data["noise"]
    source = FactorSource(data["stream"] if spec["replay"] else None)

    class GroundTruth:  # disentanglement_lib's GroundTruthData interface
        num_factors = len(FACTOR_SIZES)
        factors_num_values = list(FACTOR_SIZES)
        observation_shape = [len(FACTOR_SIZES)]

        def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
            return source.draw(num, random_state)

        def sample_observations_from_factors(self, factors: np.ndarray,
                                             random_state: np.random.RandomState) -> np.ndarray:
            return np.asarray(factors, dtype=np.float64)

        def sample(self, num: int, random_state: np.random.RandomState
                   ) -> tuple[np.ndarray, np.ndarray]:
            factors = self.sample_factors(num, random_state)
            return factors, self.sample_observations_from_factors(factors, random_state)

        def sample_observations(self, num: int, random_state: np.random.RandomState
                                ) -> np.ndarray:
            return self.sample(num, random_state)[1]

    def representation_function(observations: np.ndarray) -> np.ndarray:
        return represent_array(observations, noise)

    sizes = spec["sizes"]
    calls = {
        "beta_vae_score": lambda gt, rs: beta_vae.compute_beta_vae_sklearn(
            gt, representation_function, rs, batch_size=64, **sizes),
        "factor_vae_score": lambda gt, rs: factor_vae.compute_factor_vae(
            gt, representation_function, rs, batch_size=64, **sizes),
        "mig": lambda gt, rs: mig.compute_mig(gt, representation_function, rs, **sizes),
        "dci": lambda gt, rs: dci.compute_dci(gt, representation_function, rs, **sizes),
        "sap": lambda gt, rs: sap_score.compute_sap(gt, representation_function, rs,
                                                    continuous_factors=False, **sizes),
        "modularity_explicitness": lambda gt, rs:
            modularity_explicitness.compute_modularity_explicitness(
                gt, representation_function, rs, **sizes),
        "irs": lambda gt, rs: irs.compute_irs(gt, representation_function, rs,
                                              batch_size=16, **sizes),
    }
    with limit_threads():
        random_state = np.random.RandomState(spec["seed"])  # as disentanglement_lib's evaluate
        start, start_cpu = time.perf_counter(), time.process_time()
        scores = calls[spec["metric"]](GroundTruth(), random_state)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    Path(spec["out"]).write_text(json.dumps({"time_s": elapsed, "cpu_s": cpu,
                                             "scores": jsonable(scores)}))


def run_reference(args: argparse.Namespace, metric: str, sizes: dict, replay: bool,
                  workdir: Path) -> dict:
    spec = {"src": str(args.src), "data": str(workdir / "data.npz"), "metric": metric,
            "sizes": sizes, "replay": replay, "seed": args.seed,
            "out": str(workdir / f"ref_{metric}.json")}
    spec_path = workdir / f"spec_{metric}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    python = Path(args.venv) / "bin" / "python"
    subprocess.run([str(python), str(Path(__file__).resolve()), "--reference-worker",
                    str(spec_path)], check=True, env=env)
    return json.loads(Path(spec["out"]).read_text())


# --------------------------------------------------------------------------- vaekit side
def run_vaekit(metric: str, sizes: dict, replay: bool, data: dict, seed: int,
               fast: bool = False) -> dict:
    import torch

    from vaekit.data.base import GroundTruthDataset
    from vaekit.evaluation.disentanglement import (
        beta_vae_score,
        dci,
        factor_vae_score,
        irs,
        mig,
        modularity,
        sap,
    )

    source = FactorSource(data["stream"] if replay else None)
    noise = data["noise"]

    class GridFactors(GroundTruthDataset):
        """dSprites' factor grid whose observation is the row of factor indices."""

        factor_names = ("shape", "scale", "orientation", "posX", "posY")
        factor_sizes = FACTOR_SIZES

        def factor_values(self) -> list[np.ndarray]:
            return [np.arange(s, dtype=np.float64) for s in FACTOR_SIZES]

        def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
            return source.draw(n, rng)

        def render(self, factors: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(factors), dtype=torch.float32).reshape(
                -1, 1, 1, len(FACTOR_SIZES))

    def represent(x: torch.Tensor) -> np.ndarray:
        return represent_array(x.reshape(len(x), -1).numpy(), noise)

    calls = {
        "beta_vae_score": lambda d: beta_vae_score.compute_beta_vae_score(
            d, represent, seed=seed, **sizes),
        "factor_vae_score": lambda d: factor_vae_score.compute_factor_vae_score(
            d, represent, seed=seed, prune_threshold=PRUNE_THRESHOLD, **sizes),
        "mig": lambda d: mig.compute_mig(d, represent, seed=seed, num_bins=NUM_BINS, **sizes),
        "dci": lambda d: dci.compute_dci(d, represent, seed=seed, fast=fast, **sizes),
        "sap": lambda d: sap.compute_sap(d, represent, seed=seed, continuous_factors=False,
                                         **sizes),
        "modularity_explicitness": lambda d: modularity.compute_modularity_explicitness(
            d, represent, seed=seed, num_bins=NUM_BINS, **sizes),
        "irs": lambda d: irs.compute_irs(d, represent, seed=seed, num_bins=NUM_BINS, **sizes),
    }
    with limit_threads():
        start, start_cpu = time.perf_counter(), time.process_time()
        scores = calls[metric](GridFactors())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {"time_s": elapsed, "cpu_s": cpu, "scores": jsonable(scores)}


# ------------------------------------------------------------------------------- setup
def setup(args: argparse.Namespace) -> None:
    import scipy
    import sklearn

    venv, src, mirror = Path(args.venv), Path(args.src), Path(args.mirror)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [f"numpy=={np.__version__}", f"scipy=={scipy.__version__}",
            f"scikit-learn=={sklearn.__version__}", "gin-config==0.4.0", "absl-py", "six"]
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *pins],
                   check=True)
    if not mirror.exists():
        raise SystemExit(f"no disentanglement_lib git directory at {mirror}: fetch "
                         "github:google-research/disentanglement_lib (or clone it) and pass "
                         "--mirror")
    commit = subprocess.run(["git", f"--git-dir={mirror}", "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.run(["git", f"--git-dir={mirror}", "archive", "HEAD", *DLIB_PATHS],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    (src / "COMMIT").write_text(commit + "\n")
    print(f"venv {venv} ready ({', '.join(pins)}); disentanglement_lib {commit} metrics "
          f"unpacked to {src}")


# -------------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--setup", action="store_true", help="create the reference venv and source")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every point count by this (1 = disentanglement_lib's)")
    p.add_argument("--metrics", nargs="+", default=list(METRICS), choices=list(METRICS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--venv", default=str(DEFAULT_VENV))
    p.add_argument("--src", default=str(DEFAULT_SRC))
    p.add_argument("--mirror", default=str(DEFAULT_MIRROR))
    p.add_argument("--out", default=str(RESULTS / "metric_speed.json"))
    p.add_argument("--reference-worker", metavar="SPEC", help=argparse.SUPPRESS)
    return p.parse_args()


def compare(row: dict, tolerance: float) -> None:
    row["abs_diff"] = {s: abs(row["vaekit"][s] - row["reference"][s]) for s in row["scores"]}
    row["tolerance"] = tolerance
    row["close"] = all(d <= tolerance for d in row["abs_diff"].values())
    row["speedup"] = row["reference"]["time_s"] / row["vaekit"]["time_s"]
    row["speedup_cpu"] = row["reference"]["cpu_s"] / max(row["vaekit"]["cpu_s"], 1e-9)


def main() -> None:
    args = parse_args()
    if args.reference_worker:
        reference_worker(args.reference_worker)
        return
    if args.setup:
        setup(args)
        return
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
    import sklearn
    import torch

    from vaekit.data.dsprites import FACTOR_SIZES as DSPRITES_SIZES

    torch.set_num_threads(1)
    if tuple(DSPRITES_SIZES) != FACTOR_SIZES:
        raise SystemExit(f"dSprites' factor sizes changed: {DSPRITES_SIZES}")
    if not (Path(args.venv) / "bin" / "python").exists() or not Path(args.src).exists():
        raise SystemExit("the reference is not set up: run "
                         "python benchmarks/metric_speed.py --setup")
    commit = (Path(args.src) / "COMMIT").read_text().strip()

    rng = np.random.default_rng(args.seed)
    grid = math.prod(FACTOR_SIZES)
    longest = max(sum(METRICS[m]["sizes"].values()) for m in METRICS)
    scaled = {m: {k: max(100, round(v * args.scale)) for k, v in METRICS[m]["sizes"].items()}
              for m in METRICS}
    data = {"noise": rng.standard_normal((grid, NUM_CODES), dtype=np.float32),
            "stream": np.stack([rng.integers(0, s, max(100, round(longest * args.scale)))
                                for s in FACTOR_SIZES], axis=1)}
    protocol = {
        "factors": dict(zip(("shape", "scale", "orientation", "posX", "posY"), FACTOR_SIZES)),
        "num_codes": NUM_CODES, "scale": args.scale, "sizes": {m: scaled[m] for m in
                                                                args.metrics},
        "seed": args.seed, "threads": 1,
        "reference": f"google-research/disentanglement_lib@{commit[:12]}",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared)",
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "not_run": NOT_RUN,
    }
    print("protocol:", json.dumps(protocol), flush=True)
    header = (f"{'metric':<24} {'score':<25} {'vaekit s':>9} {'ref s':>8} {'speedup':>8} "
              f"{'cpu s':>7} {'ref cpu':>8} "
              f"{'vaekit':>8} {'ref':>8} {'|diff|':>8}")
    print(header)
    print("-" * len(header), flush=True)
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="metric_speed_") as tmp:
        workdir = Path(tmp)
        np.savez(workdir / "data.npz", **data)
        for metric in args.metrics:
            info = METRICS[metric]
            runs = [(metric, False)] + ([("dci_fast", True)] if metric == "dci" else [])
            reference = run_reference(args, metric, scaled[metric], info["replay"], workdir)
            for name, fast in runs:
                row = {"metric": metric, "fast": fast, "scores": list(info["scores"]),
                       "same_codes": info["replay"],
                       "vaekit": run_vaekit(metric, scaled[metric], info["replay"], data,
                                            args.seed, fast=fast),
                       "reference": reference}
                row["vaekit"].update({s: row["vaekit"]["scores"][s] for s in info["scores"]})
                row["reference"].update({s: reference["scores"][s] for s in info["scores"]})
                tolerance = (TOLERANCE["dci_fast"] if fast else TOLERANCE["dci"]
                             if metric == "dci" else TOLERANCE["replay"] if info["replay"]
                             else TOLERANCE["resampled"])
                compare(row, tolerance)
                rows[name] = row
                for i, s in enumerate(info["scores"]):
                    times = (f"{row['vaekit']['time_s']:9.2f} {reference['time_s']:8.2f} "
                             f"{row['speedup']:7.1f}x {row['vaekit']['cpu_s']:7.2f} "
                             f"{reference['cpu_s']:8.2f}" if i == 0 else " " * 44)
                    print(f"{name if i == 0 else '':<24} {s:<25} {times} "
                          f"{row['vaekit'][s]:8.4f} {row['reference'][s]:8.4f} "
                          f"{row['abs_diff'][s]:8.1e}", flush=True)
    for metric, why in NOT_RUN.items():
        print(f"{metric:<24} not run against the reference: {why}")
    summary = {
        "vaekit_time_s": sum(r["vaekit"]["time_s"] for n, r in rows.items() if n != "dci_fast"),
        "reference_time_s": sum(r["reference"]["time_s"] for n, r in rows.items()
                                if n != "dci_fast"),
        "all_close": all(r["close"] for r in rows.values()),
    }
    for side in ("vaekit", "reference"):
        summary[f"{side}_cpu_s"] = sum(r[side]["cpu_s"] for n, r in rows.items()
                                       if n != "dci_fast")
    if "dci_fast" in rows:
        summary["vaekit_fast_dci_cpu_s"] = (summary["vaekit_cpu_s"] - rows["dci"]["vaekit"][
            "cpu_s"] + rows["dci_fast"]["vaekit"]["cpu_s"])
        summary["vaekit_fast_dci_time_s"] = (summary["vaekit_time_s"] - rows["dci"]["vaekit"][
            "time_s"] + rows["dci_fast"]["vaekit"]["time_s"])
    print("summary:", json.dumps(summary))
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"protocol": protocol, "rows": rows, "summary": summary},
                                   indent=1) + "\n")
    print(f"wrote {out_path}")


def markdown_table(report: dict) -> str:
    """The README table: seconds and scores per metric, vaekit against disentanglement_lib."""
    lines = ["| metric | codes | vaekit (s) | disentanglement_lib (s) | speed-up "
             "| score: vaekit / reference | agree |", "|---|---|---|---|---|---|---|"]

    def seconds(run: dict) -> str:  # wall-clock, with CPU time where it was measured
        return (f"{run['time_s']:.1f} (CPU {run['cpu_s']:.1f})" if "cpu_s" in run
                else f"{run['time_s']:.1f}")

    for name, r in report["rows"].items():
        label = "dci (`fast=True`)" if r["fast"] else name
        codes = "same" if r["same_codes"] else "resampled"
        scores = "; ".join(f"{s} {r['vaekit'][s]:.3f} / {r['reference'][s]:.3f}"
                           for s in r["scores"])
        agree = (f"yes (≤ {r['tolerance']:g})" if r["close"]
                 else f"**NO** (tolerance {r['tolerance']:g})")
        lines.append(f"| {label} | {codes} | {seconds(r['vaekit'])} | "
                     f"{seconds(r['reference'])} | {r.get('speedup_cpu', r['speedup']):.1f}x | "
                     f"{scores} | "
                     f"{agree} |")
    for metric, why in report["protocol"]["not_run"].items():
        lines.append(f"| {metric} | – | not run against the reference | – | – | {why} | – |")
    p, s = report["protocol"], report["summary"]
    cpu = "vaekit_cpu_s" in s  # runs before CPU times were recorded: wall-clock only
    kind = "CPU" if cpu else "wall-clock"
    vaekit_s, ref_s = ((s["vaekit_cpu_s"], s["reference_cpu_s"]) if cpu
                       else (s["vaekit_time_s"], s["reference_time_s"]))
    fast_s = s.get("vaekit_fast_dci_cpu_s" if cpu else "vaekit_fast_dci_time_s")
    fast = f" ({fast_s:.0f} s with DCI's fast path)" if fast_s is not None else ""
    factors = ", ".join(f"{k} {v}" for k, v in p["factors"].items())
    lines += ["", f"Protocol: dSprites' factor grid ({factors}) "
              f"scored through a fixed, seeded noisy linear representation with {p['num_codes']} "
              f"codes (observation = factor indices); disentanglement_lib's study sizes times "
              f"{p['scale']:g}; \"same\": both score identical factor draws and codes; "
              f"\"resampled\": each draws its own interventions (seed {p['seed']}), so scores "
              f"agree only up to sampling noise. Reference {p['reference']} in a separate venv "
              f"with the same numpy {p['versions']['numpy']} / scikit-learn "
              f"{p['versions']['sklearn']}; {p['threads']} thread each; {p['machine']}; "
              f"speed-up = reference / vaekit {kind} time. Whole suite ({kind}): vaekit "
              f"{vaekit_s:.0f} s{fast}, disentanglement_lib {ref_s:.0f} s; scores "
              f"{'all agree' if s['all_close'] else 'do NOT all agree'}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
