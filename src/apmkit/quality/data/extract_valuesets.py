"""Maintainer script: rebuild ``value_sets.csv`` and ``value_set_codes.csv`` from FHIR ValueSet expansions.

Usage::

    python -m apmkit.quality.data.extract_valuesets valuesets_for_these_measures.tar.gz

The input is the tarball of VSAC expansions (FHIR R4 ``ValueSet`` JSON with ``expansion.contains``) that
SOURCES.md names. Only the codes are kept (OID, code system URI, code); displays are dropped to keep the
package small. Not used at run time.
"""

from __future__ import annotations

import csv
import json
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).parent


def main(tarball: str) -> None:
    sets: list[tuple[str, str, str, int]] = []
    codes: set[tuple[str, str, str]] = set()
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            if not member.name.endswith(".json"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            resource = json.load(handle)
            if resource.get("resourceType") != "ValueSet":
                continue
            oid = resource["url"].rsplit("/", 1)[1]
            contains = resource.get("expansion", {}).get("contains", [])
            sets.append((oid, resource.get("name", ""), str(resource.get("version", "")), len(contains)))
            for entry in contains:
                codes.add((oid, entry["system"], entry["code"]))
    with open(HERE / "value_sets.csv", "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["value_set_oid", "name", "version", "codes"])
        writer.writerows(sorted(sets))
    with open(HERE / "value_set_codes.csv", "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["value_set_oid", "code_system", "code"])
        writer.writerows(sorted(codes))


if __name__ == "__main__":
    main(sys.argv[1])
