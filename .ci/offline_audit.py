"""Check the installed distributions against .ci/advisories.json (no network needed).

Usage: offline_audit.py [ADVISORIES.json] [--lock requirements/lock.txt].  Exit 1 when an installed
version (or, with --lock, a version pinned in the lock) is affected by a listed advisory; print what
was checked."""
import json
import sys
from importlib import metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

args = sys.argv[1:]
lock = None
if "--lock" in args:
    at = args.index("--lock")
    lock = Path(args[at + 1])
    del args[at:at + 2]
source = Path(args[0]) if args else Path(__file__).with_name("advisories.json")
data = json.loads(source.read_text(encoding="utf-8"))
checked = {(canonicalize_name(d.metadata["Name"]), d.version) for d in metadata.distributions()}
if lock is not None:  # the lock's pins ("name==version \\"), checked as well as what is installed
    for line in lock.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            checked.add((canonicalize_name(name.split("[")[0]), version.split()[0].rstrip("\\")))
installed = {name for name, _ in checked}
found = []
for adv in data["advisories"]:
    for name, version in sorted(checked):
        if name == canonicalize_name(adv["package"]) and Version(version) in SpecifierSet(adv["affected"]):
            found.append(adv)
            print(f"offline audit: {adv['package']} {version} is affected by {adv['id']} "
                  f"({adv['summary']}; affected {adv['affected']})")
listed = {canonicalize_name(a["package"]) for a in data["advisories"]}
print(f"offline audit: {len(installed)} installed or locked distributions, {len(data['advisories'])} advisories "
      f"(list of {data['updated']}) for {len(listed & set(installed))} of them; {len(found)} affected.")
sys.exit(1 if found else 0)
