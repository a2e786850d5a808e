#!/usr/bin/env python3
"""Checks that no file in src/<area>/ includes a header of an area it does not depend on.

The allowed dependencies are the link dependencies CMakeLists.txt declares for each area
(ddpm_area(<name> <deps>...)), passed in as --area NAME=DEP,DEP,...: the build's own layering,
checked on every build. An area may include itself and the areas it depends on, directly or
through them. Prints one line per violation (file:line, the include, the allowed areas) and
exits 1 when there is any.

  scripts/check_layering.py --src src --area core= --area io=core --area models=core,io,samplers
"""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z_]+)/')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, type=pathlib.Path)
    parser.add_argument("--area", action="append", default=[], help="NAME=DEP,DEP,...")
    args = parser.parse_args()

    direct = {}
    for spec in args.area:
        name, _, deps = spec.partition("=")
        direct[name] = {d for d in deps.split(",") if d}

    def closure(area, seen=None):
        seen = set() if seen is None else seen
        for dep in direct.get(area, ()):
            if dep not in seen:
                seen.add(dep)
                closure(dep, seen)
        return seen

    problems = []
    for area_dir in sorted(p for p in args.src.iterdir() if p.is_dir()):
        area = area_dir.name
        if area not in direct:
            problems.append(f"{area_dir}: area '{area}' has no ddpm_area() in CMakeLists.txt")
            continue
        allowed = closure(area) | {area}
        for path in sorted(area_dir.rglob("*")):
            if path.suffix not in (".h", ".cpp"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                match = INCLUDE.match(line)
                if match and match.group(1) in direct and match.group(1) not in allowed:
                    problems.append(
                        f"{path}:{number}: area '{area}' includes {match.group(1)}/ "
                        f"(it may include: {', '.join(sorted(allowed))})")
    for p in problems:
        print(f"layering: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
