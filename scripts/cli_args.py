"""argparse for the project's Python scripts: no abbreviations, and an unknown flag fails with one
line naming it and the nearest valid flag (as scripts/cli.ts does for the TypeScript ones)."""
from __future__ import annotations

import argparse
import difflib
import sys


def nearest(flag: str, valid: list[str]) -> str:
    """The shortest valid flag that starts with `flag`, else the closest by difflib's ratio."""
    prefixed = sorted((v for v in valid if v.startswith(flag)), key=len)
    if prefixed:
        return prefixed[0]
    close = difflib.get_close_matches(flag, valid, n=1, cutoff=0.0)
    return close[0] if close else valid[0]


class StrictParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            valid = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
            flag = unknown[0].split("=")[0]
            hint = f"; did you mean {nearest(flag, valid)}?" if flag.startswith("-") else ""
            print(f"{self.prog}: unknown argument {unknown[0]}{hint} ({self.prog} --help lists the flags)", file=sys.stderr)
            sys.exit(2)
        return parsed
