#!/usr/bin/env python3
"""Which pages of a process's executable are mapped, and in which page-cache
folios (root: /proc/PID/pagemap and /proc/kpageflags).

    bench/idle_memory/mapped_pages.py PID [PERMS]     (PERMS default r-xp)

Prints, per mapping of the process's executable with those permissions, its
pages, how many are mapped, and the sizes (in pages) of the folio runs they
belong to. Many 1-page runs mean small folios: what is mapped then comes
from the kernel's fault-around, not from large folios mapped whole
(docs/BENCHMARKS.md, "Idle memory").
"""
import os
import struct
import sys
from collections import Counter

PAGE = 4096
PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1
KPF_COMPOUND_HEAD = 1 << 15
KPF_COMPOUND_TAIL = 1 << 16


def entry(f, index):
    f.seek(index * 8)
    return struct.unpack("Q", f.read(8))[0]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pid = int(sys.argv[1])
    perms = sys.argv[2] if len(sys.argv) > 2 else "r-xp"
    exe = os.readlink(f"/proc/{pid}/exe")
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap, open(
        "/proc/kpageflags", "rb"
    ) as kpageflags:
        for fields in (line.split() for line in maps):
            if len(fields) < 6 or fields[1] != perms or fields[5] != exe:
                continue
            begin, end = (int(x, 16) for x in fields[0].split("-"))
            mapped = 0
            runs = []  # lengths of runs of pages in one folio
            run = 0
            for address in range(begin, end, PAGE):
                e = entry(pagemap, address // PAGE)
                if not e & PRESENT:
                    if run:
                        runs.append(run)
                    run = 0
                    continue
                mapped += 1
                flags = entry(kpageflags, e & PFN_MASK)
                if flags & KPF_COMPOUND_HEAD or not flags & KPF_COMPOUND_TAIL:
                    if run:
                        runs.append(run)
                    run = 1  # a new folio starts here
                else:
                    run += 1
            if run:
                runs.append(run)
            print(
                f"{fields[1]} {exe}: {(end - begin) // PAGE} pages, {mapped} mapped; "
                f"folio runs (pages: count) {sorted(Counter(runs).items())}"
            )


if __name__ == "__main__":
    main()
