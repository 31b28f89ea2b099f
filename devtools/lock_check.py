"""Fail, naming the package, if today's index would make the locks uninstallable.

The locks pin every package by version and hash, so a new upstream release cannot change
what `make install` installs; but a release can still break the install (a dependency
newly asked for, an extra the installer cannot match to a pin). This resolves the locks
with the pinned installer against the index as it is now (`--refresh`: no cached index
pages), as a dry run into an empty venv, so nothing already installed hides a gap.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from devtools.install_venv import LOCKS, REQUIREMENTS

DEFAULT_LOCKS = tuple(REQUIREMENTS / name for name in LOCKS)
# uv's ways of saying "this package is asked for but the locks do not pin it".
_UNPINNED = (
    re.compile(r"no trusted hash was provided for: `([^`]+)`"),
    re.compile(r"must have their versions pinned with `==`, but found: ([A-Za-z0-9._-]+)"),
)


def unpinned_packages(installer_output: str) -> list[str]:
    """The packages the installer names as asked for but not pinned with a hash."""
    flat = " ".join(installer_output.split())  # uv wraps long messages to the terminal
    found = [m.group(1) for pattern in _UNPINNED for m in pattern.finditer(flat)]
    return list(dict.fromkeys(found))


def check_locks(uv: Path, locks: Sequence[Path], *, refresh: bool = True) -> tuple[bool, str]:
    """Dry-run install of `locks` into an empty venv; (ok, what uv said)."""
    with tempfile.TemporaryDirectory(prefix="lock-check-") as scratch:
        target = Path(scratch) / "venv"
        subprocess.run(
            [str(uv), "venv", "--quiet", "--python", sys.executable, str(target)],
            check=True,
            capture_output=True,
        )
        command = [str(uv), "pip", "install", "--dry-run", "--require-hashes"]
        command += ["--python", str(target / "bin" / "python")]
        command += ["--refresh"] if refresh else []
        for lock in locks:
            command += ["-r", str(lock)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="*", type=Path, default=list(DEFAULT_LOCKS))
    parser.add_argument("--uv", type=Path, default=Path(sys.executable).parent / "uv")
    args = parser.parse_args(argv)
    ok, said = check_locks(args.uv, args.locks)
    if ok:
        print(f"lock check: ok ({len(args.locks)} locks resolve against today's index)")
        return 0
    names = unpinned_packages(said)
    if names:
        print(
            "lock check: asked for but not pinned with a hash in the locks: "
            + ", ".join(names)
            + " (re-lock with `make lock`)",
            file=sys.stderr,
        )
    else:
        print("lock check: the locks do not resolve against today's index", file=sys.stderr)
    print(said, file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
