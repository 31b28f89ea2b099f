"""Fail if the compromised LiteLLM releases' credential stealer is installed.

LiteLLM 1.82.7 and 1.82.8 shipped a `litellm_init.pth` that Python runs at start-up.
`make test` and CI run this before anything imports LiteLLM.
"""

from __future__ import annotations

import site
import sys
from importlib import metadata
from pathlib import Path

BAD_FILE = "litellm_init.pth"
BAD_VERSIONS = frozenset({"1.82.7", "1.82.8"})
PINNED_VERSION = "1.106.2"


def site_dirs() -> list[Path]:
    dirs = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    return [Path(d) for d in dict.fromkeys(dirs) if d and Path(d).is_dir()]


def find_problems(*, pth_only: bool = False) -> list[str]:
    problems = [f"{d / BAD_FILE} exists" for d in site_dirs() if (d / BAD_FILE).exists()]
    if pth_only:  # before installing: no LiteLLM to look at yet
        return problems
    try:
        version = metadata.version("litellm")
    except metadata.PackageNotFoundError:
        return [*problems, "litellm is not installed"]
    if version in BAD_VERSIONS:
        problems.append(f"litellm {version} is a compromised release")
    elif version != PINNED_VERSION:
        problems.append(f"litellm {version} installed, the lock pins {PINNED_VERSION}")
    return problems


def main(argv: list[str] | None = None) -> int:
    pth_only = "--pth-only" in (sys.argv[1:] if argv is None else argv)
    problems = find_problems(pth_only=pth_only)
    for problem in problems:
        print(f"supply-chain check: {problem}", file=sys.stderr)
    if not problems:
        checked = f"no {BAD_FILE}" if pth_only else f"litellm {PINNED_VERSION}, no {BAD_FILE}"
        print(f"supply-chain check: ok ({checked})")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
