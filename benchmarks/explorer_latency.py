"""Question: does ``vaekit serve`` stay responsive, i.e. how many decode requests per second does
it answer, and with what p50/p99 latency, when 1, 4 or 8 clients move sliders at once?

Protocol (printed and stored with the results):
- model: an untrained conv64 VAE (the beta-VAE architecture of the disentanglement literature,
  1x64x64 images, 10 latent dims; seed 0), saved with ``save_pretrained`` to a temporary
  folder; the weights do not change the cost of a forward pass, so nothing is trained;
- server: ``python -m vaekit serve DIR --port 0 --all-dims`` in a subprocess (Werkzeug's
  threaded server, the model used under one lock) with torch on 1 thread (OMP_NUM_THREADS=1);
- clients: N threads in this process (N = 1, 4, 8), each with its own keep-alive HTTP/1.1
  connection (``http.client``), sending ``POST /api/decode`` with a fresh random z (N(0, I)) as
  fast as answers come back (closed loop, like a slider dragged without pause); a fixed number
  of requests per N (default 300) split evenly over the clients, after 20 warm-up requests;
- latency: from sending a request to having read and parsed its JSON answer (a base64 PNG);
  requests/s: requests answered / wall-clock time of the whole level;
- for reference, the decode alone (forward pass + PNG + base64, no HTTP) timed in this process
  on 1 thread.
The machine is shared with other long benchmarks, so absolute numbers move by tens of percent.

Run:  python benchmarks/explorer_latency.py     (about 15 s)
Writes benchmarks/results/explorer_latency.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from vaekit.explorer.images import data_uri, png_bytes
from vaekit.explorer.session import Explorer
from vaekit.models import build_model

RESULTS = Path(__file__).parent / "results"
MODEL = {"type": "vae", "network": "conv64", "data_shape": [1, 64, 64], "latent_dim": 10}
WARMUP = 20


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--requests", type=int, default=300, help="decode requests per level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "explorer_latency.json"))
    return p.parse_args()


def start_server(model_dir: Path) -> tuple[subprocess.Popen, str, int]:
    """``vaekit serve`` on a free port; returns the process, host and port once it listens."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vaekit", "serve", str(model_dir), "--port", "0", "--all-dims"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    for line in process.stdout:  # notes, then the URL line; EOF if the server died
        seen.append(line)
        match = re.search(r"http://([\d.]+):(\d+)/", line)
        if match:
            return process, match.group(1), int(match.group(2))
    process.kill()
    raise RuntimeError("the server did not start:\n" + "".join(seen))


def client(host: str, port: int, n: int, seed: int, latencies: list[float],
           errors: list[str]) -> None:
    """Send ``n`` decode requests over one keep-alive connection, recording each latency."""
    rng = np.random.default_rng(seed)
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        for _ in range(n):
            body = json.dumps({"z": rng.standard_normal(MODEL["latent_dim"]).tolist()})
            start = time.perf_counter()
            connection.request("POST", "/api/decode", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            latencies.append(time.perf_counter() - start)
            if response.status != 200 or "image" not in answer:
                errors.append(f"{response.status}: {answer}")
    finally:
        connection.close()


def run_level(host: str, port: int, clients: int, requests: int, seed: int) -> dict:
    """One level: ``requests`` decodes from ``clients`` concurrent clients."""
    per_client = [requests // clients + (i < requests % clients) for i in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=client, args=(host, port, n, seed + i, latencies, errors))
               for i, n in enumerate(per_client)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "requests": len(latencies), "errors": len(errors),
            "wall_s": wall, "requests_per_s": len(latencies) / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max())}


def decode_only(model: torch.nn.Module, n: int = 200) -> dict:
    """Milliseconds per decode + PNG + base64 in this process, no HTTP."""
    explorer = Explorer(model)
    z = torch.randn(n, explorer.latent_dim, generator=torch.Generator().manual_seed(0))
    times = []
    for row in z:
        start = time.perf_counter()
        data_uri(png_bytes(explorer.decode(row[None])[0]))
        times.append(time.perf_counter() - start)
    ms = np.asarray(times[10:]) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    model = build_model(MODEL)
    protocol = {
        "model": "untrained conv64 VAE (beta-VAE architecture)",
        "data_shape": MODEL["data_shape"],
        "latent_dim": MODEL["latent_dim"],
        "server": f"vaekit serve: Werkzeug {version('werkzeug')} threaded server, "
                  f"Flask {version('flask')}, model under one lock",
        "server_torch_threads": 1,
        "clients": args.clients,
        "requests_per_level": args.requests,
        "warmup_requests": WARMUP,
        "connection": "one keep-alive HTTP/1.1 connection per client (http.client), closed loop",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
                   "(shared with other benchmarks)",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    print("protocol:", json.dumps(protocol))
    decode = decode_only(model)
    print(f"decode alone (no HTTP): p50 {decode['p50_ms']:.2f} ms, p99 {decode['p99_ms']:.2f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(Path(tmp) / "model")
        process, host, port = start_server(Path(tmp) / "model")
        try:
            run_level(host, port, 1, WARMUP, args.seed + 1000)
            header = f"{'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} " \
                     f"{'max ms':>8} {'errors':>6}"
            print(header)
            print("-" * len(header))
            levels = []
            for clients in args.clients:
                level = run_level(host, port, clients, args.requests, args.seed)
                levels.append(level)
                print(f"{clients:>7} {level['requests']:>8} {level['requests_per_s']:>8.1f} "
                      f"{level['p50_ms']:>8.2f} {level['p99_ms']:>8.2f} {level['max_ms']:>8.2f} "
                      f"{level['errors']:>6}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=10)

    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    report = {"protocol": protocol, "decode_only": decode, "levels": levels}
    out_path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()


def markdown_table(report: dict) -> str:
    """The README table: requests/s and p50/p99 latency of decode requests per client count."""
    lines = ["| concurrent clients | requests/s | p50 latency (ms) | p99 latency (ms) |",
             "|---|---|---|---|"]
    for level in report["levels"]:
        lines.append(f"| {level['clients']} | {level['requests_per_s']:.0f} | "
                     f"{level['p50_ms']:.1f} | {level['p99_ms']:.1f} |")
    p, decode = report["protocol"], report["decode_only"]
    shape = "x".join(str(s) for s in p["data_shape"])
    lines += ["", f"`POST /api/decode` to `vaekit serve` ({p['model']}, {shape} images, "
              f"{p['latent_dim']} latents, torch on {p['server_torch_threads']} thread), "
              f"{p['requests_per_level']} requests per row; the decode alone takes "
              f"{decode['p50_ms']:.1f} ms (p50); {p['machine']}."]
    return "\n".join(lines)
