"""Regenerate the README's benchmark tables from the JSON in benchmarks/results/.

Each table sits between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->`` in README.md and is
rendered by ``benchmarks/NAME.py``'s ``markdown_table(report)``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def render(name: str) -> str | None:
    result = ROOT / "benchmarks" / "results" / f"{name}.json"
    script = ROOT / "benchmarks" / f"{name}.py"
    if not result.is_file() or not script.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"bench_{name}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.markdown_table(json.loads(result.read_text()))


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name in re.findall(r"<!-- table:(\w+) -->", text):
        table = render(name)
        if table is None:
            print(f"{name}: no results yet, left as is")
            continue
        pattern = re.compile(rf"(<!-- table:{name} -->\n).*?(<!-- /table:{name} -->)", re.S)
        text = pattern.sub(lambda m, t=table: f"{m.group(1)}{t}\n{m.group(2)}", text)
        print(f"{name}: table updated")
    readme.write_text(text)


if __name__ == "__main__":
    main()
