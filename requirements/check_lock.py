"""Fail when requirements/lock.txt no longer satisfies setup.cfg (a dependency added or a range
changed without `make lock`).  Run by every `make` install before it installs the lock.

Usage: python requirements/check_lock.py [setup.cfg] [requirements/lock.txt]"""
import configparser
import sys
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a fresh venv: pip's own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

EXTRAS = ("test", "prod")  # the extras the lock is compiled with (Makefile: make lock)


def declared(setup_cfg):
    cfg = configparser.ConfigParser()
    cfg.read(setup_cfg, encoding="utf-8")
    lines = cfg.get("options", "install_requires").splitlines()
    for extra in EXTRAS:
        lines += cfg.get("options.extras_require", extra, fallback="").splitlines()
    return [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]


def pinned(lock):
    pins = {}
    for line in Path(lock).read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#", "-")):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[")[0])] = version.split()[0].rstrip("\\")
    return pins


def main(setup_cfg="setup.cfg", lock="requirements/lock.txt"):
    pins = pinned(lock)
    stale = []
    for req in declared(setup_cfg):
        version = pins.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            stale.append(f"{req} (lock: {version or 'absent'})")
    for line in stale:
        print(f"{lock} does not satisfy setup.cfg: {line}", file=sys.stderr)
    if stale:
        print("run `make lock` to regenerate it (and commit it with setup.cfg)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
