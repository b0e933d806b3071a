"""What poetry-core and packaging say about fabuild's Poetry translations.

Reads one JSON document on stdin: {"probes": [version, ...], "cases": [{"constraint": str,
"fabuild": str | null, "near": [version, ...]}, ...]}, where "fabuild" is fabuild's PEP 440
specifier (null when fabuild refused). Writes one JSON line per case:

  {"poetry": "refused" | "crashed" | "range" | "union",
   "packaging_error": str | null,     # packaging could not read fabuild's specifier
   "differ": [[version, poetry_allows, fabuild_allows], ...]}

Poetry's side is `parse_constraint(c).allows(v)`; fabuild's is packaging's
`SpecifierSet(spec).contains(v, prereleases=True)` (pre-release policy is the installer's,
and the same for both: this compares which versions each admits). The probes are the shared
list plus, for each case, the versions it was built from and their neighbours.
"""

import json
import sys

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion
from packaging.version import Version as PackagingVersion
from poetry.core.constraints.version import Version, VersionRange, parse_constraint


def neighbours(text):
    try:
        v = PackagingVersion(text)
    except InvalidVersion:
        return []
    base = v.public
    release = ".".join(str(n) for n in v.release)
    epoch = f"{v.epoch}!" if v.epoch else ""
    out = [str(v), base, f"{base}+zz.1", f"{epoch}{release}", f"{epoch}{release}+loc"]
    for suffix in ["a1", "a0", "b2", "rc1", ".dev0", ".dev3", ".post1", ".post0", ".post1.dev0",
                   ".post2", "rc1.post1", "a1.dev0", ".0", ".0.1", ".1", ".9"]:
        out.append(f"{epoch}{release}{suffix}")
    if not v.is_devrelease:
        out += [f"{base}.dev0", f"{base}.dev1"]
    if not v.is_postrelease and not v.is_devrelease:
        out += [f"{base}.post1", f"{base}.post1+x"]
    if v.pre is not None and not v.is_postrelease and not v.is_devrelease:
        phase, n = v.pre
        out += [f"{epoch}{release}{phase}{n + 1}", f"{epoch}{release}{phase}{n + 1}.dev0"]
    bumped = list(v.release)
    for i in range(len(bumped)):
        up = bumped[:i] + [bumped[i] + 1] + [0] * (len(bumped) - i - 1)
        out.append(epoch + ".".join(map(str, up)))
        out.append(epoch + ".".join(map(str, up)) + ".dev0")
        out.append(epoch + ".".join(map(str, up)) + "rc1")
    return out


def main():
    doc = json.load(sys.stdin)
    shared = doc["probes"]
    out = sys.stdout
    for case in doc["cases"]:
        constraint = case["constraint"]
        result = {"poetry": "refused", "packaging_error": None, "differ": []}
        try:
            parsed = parse_constraint(constraint)
        except AssertionError:
            # An internal check of poetry-core failing (intersecting an empty wildcard
            # range), not its grammar refusing.
            parsed = None
            result["poetry"] = "crashed"
        except Exception:  # noqa: BLE001 - any other error is poetry-core refusing
            parsed = None
        if parsed is not None:
            simple = isinstance(parsed, (VersionRange, Version)) or parsed.is_empty()
            result["poetry"] = "range" if simple else "union"
        spec_text = case["fabuild"]
        if parsed is not None and spec_text is not None:
            try:
                spec = SpecifierSet(spec_text)
            except InvalidSpecifier as e:
                result["packaging_error"] = str(e)
                spec = None
            if spec is not None:
                probes = list(shared)
                for near in case["near"]:
                    probes += neighbours(near)
                seen = set()
                for probe in probes:
                    if probe in seen:
                        continue
                    seen.add(probe)
                    try:
                        theirs = parsed.allows(Version.parse(probe))
                        ours = spec.contains(probe, prereleases=True)
                    except Exception:  # noqa: BLE001 - a probe one side cannot read is skipped
                        continue
                    if theirs != ours:
                        result["differ"].append([probe, theirs, ours])
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
