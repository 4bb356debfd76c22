"""Question: how much faster is DCI's ``fast=True`` path, and how far are its scores from the
reference (disentanglement_lib's ``GradientBoostingClassifier``) path?

Protocol (printed and stored with the results):
- factors: dSprites' five (shape 3, scale 6, orientation 40, posX 32, posY 32 values), drawn
  uniformly; 10 code dimensions; disentanglement_lib's default sizes, 10,000 training and 5,000
  test points (``--quick``: 1,000 and 500);
- codes, four kinds, from the most to the least disentangled:
  ``factors_noise``: each factor's value rescaled to [-1, 1] plus N(0, 0.05^2) in its own
  dimension, five collapsed dimensions of N(0, 0.05^2) noise;
  ``partial``: each code mostly one factor, plus 0.3 of the next one, noise, and a monotone warp
  (codes of a partly disentangled model);
  ``mixing``: a random linear mix of the five factor values plus N(0, 0.1^2) noise;
  ``pca``: the first 10 principal components of the rendered 64x64 images (a trained linear
  encoder, fitted on the training images);
- both paths score the same arrays with the same seed; time is wall-clock of ``dci(...)``.

Run:  python benchmarks/dci_speed.py            (about 18 min on 2 shared CPU cores)
      python benchmarks/dci_speed.py --quick    (about two minutes)
Writes benchmarks/results/dci_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA

from vaekit.data.dsprites import DSprites
from vaekit.evaluation.disentanglement.dci import dci

RESULTS = Path(__file__).parent / "results"
SCORES = ("disentanglement", "completeness", "informativeness_train", "informativeness_test")
CASES = ("factors_noise", "partial", "mixing", "pca")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num-train", type=int, default=10000)
    p.add_argument("--num-test", type=int, default=5000)
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="1,000 / 500 points")
    p.add_argument("--out", default=str(RESULTS / "dci_speed.json"))
    return p.parse_args()


def make_codes(case: str, dataset: DSprites, f_train: np.ndarray, f_test: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and test codes ``(N, 10)`` of one kind for the given factors."""
    sizes = np.asarray(dataset.factor_sizes)

    def unit(f: np.ndarray) -> np.ndarray:  # factor values rescaled to [-1, 1]
        return 2.0 * f / (sizes - 1) - 1.0

    if case == "factors_noise":
        def encode(f: np.ndarray) -> np.ndarray:
            noise = 0.05 * rng.standard_normal((len(f), 10))
            return np.concatenate([unit(f), np.zeros((len(f), 5))], axis=1) + noise
    elif case == "partial":
        def encode(f: np.ndarray) -> np.ndarray:
            u = unit(f)
            mixed = u + 0.3 * np.roll(u, -1, axis=1) + 0.1 * rng.standard_normal(u.shape)
            warped = np.sinh(1.5 * mixed)  # monotone: trees see the same orderings
            return np.concatenate([warped, 0.05 * rng.standard_normal((len(f), 5))], axis=1)
    elif case == "mixing":
        weights = rng.standard_normal((5, 10))

        def encode(f: np.ndarray) -> np.ndarray:
            return unit(f) @ weights + 0.1 * rng.standard_normal((len(f), 10))
    elif case == "pca":
        images = dataset.render(f_train).reshape(len(f_train), -1).numpy()
        pca = PCA(n_components=10, random_state=0).fit(images)

        def encode(f: np.ndarray) -> np.ndarray:
            return pca.transform(dataset.render(f).reshape(len(f), -1).numpy())
    else:
        raise ValueError(case)
    return encode(f_train), encode(f_test)


def main() -> None:
    args = parse_args()
    if args.quick:
        args.num_train, args.num_test = 1000, 500
    torch.set_num_threads(1)
    dataset = DSprites()
    rng = np.random.default_rng(args.seed)
    f_train = dataset.sample_factors(args.num_train, rng)
    f_test = dataset.sample_factors(args.num_test, rng)
    protocol = {
        "factors": dict(zip(dataset.factor_names, dataset.factor_sizes)),
        "num_codes": 10,
        "num_train": args.num_train,
        "num_test": args.num_test,
        "seed": args.seed,
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{__import__('os').cpu_count()} CPU cores (shared)",
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    print("protocol:", json.dumps(protocol))
    header = (f"{'case':<14} {'path':<5} {'time s':>7} "
              + " ".join(f"{s[:15]:>15}" for s in SCORES))
    print(header)
    print("-" * len(header))
    cases = {}
    for case in args.cases:
        z_train, z_test = make_codes(case, dataset, f_train, f_test, rng)
        row = {}
        for path, fast in (("ref", False), ("fast", True)):
            start = time.perf_counter()
            out = dci(f_train, z_train, f_test, z_test, fast=fast, seed=args.seed)
            elapsed = time.perf_counter() - start
            row[path] = {"time_s": elapsed, **{s: out[s] for s in SCORES},
                         "importance_matrix": out["importance_matrix"]}
            print(f"{case:<14} {path:<5} {elapsed:7.1f} "
                  + " ".join(f"{out[s]:15.4f}" for s in SCORES), flush=True)
        importance_ref = np.asarray(row["ref"]["importance_matrix"])
        importance_fast = np.asarray(row["fast"]["importance_matrix"])
        row["abs_diff"] = {s: abs(row["fast"][s] - row["ref"][s]) for s in SCORES}
        row["abs_diff"]["importance_max"] = float(np.abs(importance_fast - importance_ref).max())
        row["speedup"] = row["ref"]["time_s"] / row["fast"]["time_s"]
        cases[case] = row
        print(f"{case:<14} |diff| " + " ".join(f"{row['abs_diff'][s]:15.4f}" for s in SCORES)
              + f"   speedup {row['speedup']:.1f}x", flush=True)

    summary = {
        "max_abs_diff": {s: max(c["abs_diff"][s] for c in cases.values())
                         for s in (*SCORES, "importance_max")},
        "ref_time_s": sum(c["ref"]["time_s"] for c in cases.values()),
        "fast_time_s": sum(c["fast"]["time_s"] for c in cases.values()),
    }
    summary["speedup"] = summary["ref_time_s"] / summary["fast_time_s"]
    print("summary:", json.dumps(summary))
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"protocol": protocol, "cases": cases, "summary": summary},
                                   indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()


def markdown_table(report: dict) -> str:
    """The README table: reference vs fast path, seconds and scores per kind of codes."""
    lines = ["| codes | reference (s) | fast (s) | speed-up | D ref / fast | C ref / fast "
             "| I test ref / fast |", "|---|---|---|---|---|---|---|"]
    for case, runs in report["cases"].items():
        ref, fast = runs["ref"], runs["fast"]
        lines.append(
            f"| {case} | {ref['time_s']:.0f} | {fast['time_s']:.1f} | "
            f"{ref['time_s'] / fast['time_s']:.0f}x | {ref['disentanglement']:.3f} / "
            f"{fast['disentanglement']:.3f} | {ref['completeness']:.3f} / "
            f"{fast['completeness']:.3f} | {ref['informativeness_test']:.3f} / "
            f"{fast['informativeness_test']:.3f} |")
    p = report["protocol"]
    lines += ["", f"{p['num_codes']} codes, dSprites' 5 factors, {p['num_train']} train / "
              f"{p['num_test']} test points, seed {p['seed']}; {p['machine']}."]
    return "\n".join(lines)
