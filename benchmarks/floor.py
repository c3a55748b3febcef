"""The floor for whole-repository cleaning: bare ``json.load`` + ``json.dump`` of each file.

No tool that reads and rewrites every notebook can beat this by much; it is what the
Python interpreter and the disk cost. Usage: python floor.py [--read-only] FILE_OR_FOLDER... (--read-only: the floor of a check)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    read_only = "--read-only" in argv
    for raw in (a for a in argv if a != "--read-only"):
        root = Path(raw)
        for path in sorted(root.rglob("*.ipynb")) if root.is_dir() else [root]:
            with path.open(encoding="utf-8") as fh:
                nb = json.load(fh)
            if read_only:
                continue
            with path.open("w", encoding="utf-8") as fh:
                json.dump(nb, fh, indent=1, sort_keys=True, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
