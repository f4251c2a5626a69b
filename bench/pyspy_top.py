"""The top entries of a py-spy profile in its raw format (`py-spy record --format raw`, as
`bench/loadgen.py --py-spy FILE` writes): each function's share of the samples, inclusive
(anywhere on the stack) and self (the innermost frame), optionally only of the stacks
that pass through a given function.

    python bench/pyspy_top.py /tmp/profile.txt --top 40
    python bench/pyspy_top.py /tmp/profile.txt --within on_transaction_event
    python bench/pyspy_top.py /tmp/profile.txt --children "event.<locals>.work"
    python bench/pyspy_top.py /tmp/v201.txt --compare /tmp/v16.txt

With --compare, two profiles of the same traffic in other versions (the same messages
sent): each function's samples in both, inclusive, by the difference. SQLAlchemy's async
calls run their synchronous part in a greenlet, which py-spy shows as a stack of its own
(rooted at greenlet_spawn), so a service function's inclusive share leaves out the
statements it ran; the ORM's own entries (Session.flush, orm_execute_statement) say that.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# A frame: "function (path/to/file.py:line)"; the line is dropped, so that a function's
# samples add up whatever line they were on.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def read(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append(([frame_name(f) for f in stack.split(";")], int(count)))
    return stacks


def children(path: Path, function: str, top: int) -> None:
    """The frames right below `function` (its line included), by share of its samples."""
    below: Counter[str] = Counter()
    total = inside = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        names = [frame_name(f) for f in frames]
        at = max((i for i, name in enumerate(names) if function in name), default=None)
        if at is None:
            continue
        inside += int(count)
        # The caller's line says which call it was; then the callee.
        line_of = re.search(r":(\d+)\)$", frames[at].strip())
        callee = names[at + 1] if at + 1 < len(names) else "(itself)"
        below[f"line {line_of[1] if line_of else '?'} -> {callee}"] += int(count)
    print(f"{inside} of {total} samples ({inside / max(total, 1):.1%}) in {function}")
    for name, count in below.most_common(top):
        print(f"  {count / max(inside, 1):6.1%} of it  {name}")


def inclusive_samples(path: Path) -> tuple[Counter[str], Counter[str], int]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for stack, count in read(path):
        total += count
        for name in set(stack):
            inclusive[name] += count
        own[stack[-1]] += count
    return inclusive, own, total


def compare(path: Path, other: Path, top: int) -> None:
    first, first_own, first_total = inclusive_samples(path)
    second, second_own, second_total = inclusive_samples(other)
    print(f"{path.name}: {first_total} samples; {other.name}: {second_total} samples")
    for title, a, b in (("inclusive", first, second), ("self", first_own, second_own)):
        print(f"{title}: samples in {path.name}, in {other.name}, difference")
        names = sorted(set(a) | set(b), key=lambda n: b[n] - a[n])
        for name in names[:top]:
            print(f"  {a[name]:6d} {b[name]:6d} {a[name] - b[name]:+6d}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--within", help="only stacks through a function whose name has this")
    parser.add_argument("--compare", type=Path, help="a second profile: differences by function")
    parser.add_argument(
        "--children",
        help="what the function whose name has this spends its samples in: the"
        " frame right below it (its innermost occurrence), with its line",
    )
    args = parser.parse_args()
    if args.compare:
        compare(args.profile, args.compare, args.top)
        return
    if args.children:
        children(args.profile, args.children, args.top)
        return
    stacks = read(args.profile)
    total = sum(count for _, count in stacks)
    if args.within:
        stacks = [(s, c) for s, c in stacks if any(args.within in f for f in s)]
    chosen = sum(count for _, count in stacks)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in stacks:
        for name in set(stack):
            inclusive[name] += count
        own[stack[-1]] += count
    print(f"{total} samples in all; {chosen} shown ({chosen / max(total, 1):.1%})")
    print("inclusive (% of all samples)")
    for name, count in inclusive.most_common(args.top):
        print(f"  {count / total:6.1%}  {name}")
    print("self (% of all samples)")
    for name, count in own.most_common(args.top):
        print(f"  {count / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
