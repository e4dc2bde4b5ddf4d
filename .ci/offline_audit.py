"""Check the installed distributions against .ci/advisories.json (no network needed).

Usage: offline_audit.py [ADVISORIES.json].  Exit 1 when an installed version is affected by a
listed advisory; print what was checked."""
import json
import sys
from importlib import metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("advisories.json")
data = json.loads(source.read_text(encoding="utf-8"))
installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
found = []
for adv in data["advisories"]:
    version = installed.get(canonicalize_name(adv["package"]))
    if version is not None and Version(version) in SpecifierSet(adv["affected"]):
        found.append(adv)
        print(f"offline audit: {adv['package']} {version} is affected by {adv['id']} "
              f"({adv['summary']}; affected {adv['affected']})")
listed = {canonicalize_name(a["package"]) for a in data["advisories"]}
print(f"offline audit: {len(installed)} installed distributions, {len(data['advisories'])} advisories "
      f"(list of {data['updated']}) for {len(listed & set(installed))} of them; {len(found)} affected.")
sys.exit(1 if found else 0)
