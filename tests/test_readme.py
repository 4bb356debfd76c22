"""The README's Python example runs as written (with a shorter training budget)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert '"train.max_steps": 3000' in code
    code = code.replace('"train.max_steps": 3000',
                        '"train.max_steps": 5, "train.progress_bar": False')
    code = code.replace("num_samples=500", "num_samples=20")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    assert (tmp_path / "traversal.png").stat().st_size > 0
    assert (tmp_path / "runs" / "bvae" / "model" / "model.safetensors").is_file()
