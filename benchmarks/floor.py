"""The floor for whole-repository cleaning: bare ``json.load`` + ``json.dump`` of each file.

No tool that reads and rewrites every notebook can beat this by much; it is what the
Python interpreter and the disk cost. With ``--check``, the floor of a check: parse,
serialise in memory and compare, write nothing.

Usage: python floor.py [--check] FILE_OR_FOLDER...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    check = "--check" in argv
    for raw in (a for a in argv if a != "--check"):
        root = Path(raw)
        for path in sorted(root.rglob("*.ipynb")) if root.is_dir() else [root]:
            with path.open(encoding="utf-8") as fh:
                nb = json.load(fh)
            if check:  # what a check must do at least: parse, serialise, compare
                text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
                if text.encode("utf-8") != path.read_bytes():
                    print(f"{path}: not in canonical form", file=sys.stderr)
                continue
            with path.open("w", encoding="utf-8") as fh:
                json.dump(nb, fh, indent=1, sort_keys=True, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
