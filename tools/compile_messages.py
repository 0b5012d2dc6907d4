"""Compiles locale/*/LC_MESSAGES/*.po to .mo with polib, so no gettext install is needed.

The compiled .mo files are committed: `make run` on a fresh machine needs no build step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    count = 0
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        po = polib.pofile(str(po_path))
        po.save_as_mofile(str(po_path.with_suffix(".mo")))
        count += 1
        print(f"{po_path.relative_to(ROOT)}: {po.percent_translated()}% translated")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
