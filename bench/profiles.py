"""Where each process's time went, from `make bench BENCH_ARGS="--only-cost --profile"`:

    python -m bench.profiles bench-results/profiles/this/c8

For each py-spy file (collapsed stacks of the thread holding the GIL), the share of samples
by the package whose code was running (the innermost frame), by function, and by function with
what it calls (a frame counted once per sample).
"""

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def package(frame: str) -> str:
    """`psycopg` for psycopg/cursor.py (py-spy names files from their package), `threading`
    for the standard library's threading.py."""
    match = FRAME.match(frame)
    path = match.group("file") if match else frame
    for marker in ("site-packages/", "/src/"):  # a file named by its full path
        path = path.split(marker, 1)[-1]
    return path.split("/", 1)[0].removesuffix(".py")


def summarise(path: Path, top: int) -> list[str]:
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        by_package[package(frames[-1])] += samples
        by_function[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return [f"{path.name}: no samples"]
    lines = [f"{path.name}: {total} samples", "  by package (innermost frame):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in by_package.most_common(top)]
    lines.append("  by function:")
    lines += [f"    {100 * n / total:5.1f}%  {f[:110]}" for f, n in by_function.most_common(top)]
    lines.append("  by function, with what it calls:")
    lines += [f"    {100 * n / total:5.1f}%  {f[:110]}" for f, n in inclusive.most_common(top)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for path in sorted(args.folder.glob("*-*.txt")):
        print("\n".join(summarise(path, args.top)), end="\n\n")


if __name__ == "__main__":
    main()
