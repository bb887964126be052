#!/usr/bin/env python3
"""Turns a callgrind profile of an idle process into a GNU ld script that lays
out the code it ran in one place (scripts/hot-text.sh runs the profile).

    hot_text.py --map BIN.map --profile callgrind.out --binary BIN --out BIN.hot-text.ld

The profile must come from `valgrind --tool=callgrind --dump-instr=yes
--compress-pos=no` on BIN, whose link map (-Wl,-Map) is BIN.map. Every
executed instruction is looked up in the map; the input section holding it
(a function's own section under -ffunction-sections, or an archive member's
whole .text for objects built without it, e.g. Debian's libcrypto.a) goes
into one output section placed before .text (INSERT keeps the default script,
so everything else about the link is unchanged).
"""
import argparse
import bisect
import re
import subprocess
import sys
from collections import Counter

TEXT_INPUT = re.compile(r"^ (\.text\S*)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+))?$")
ADDR_LINE = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$")
OUTPUT_TEXT = {".text", ".text.honeycomb_hot"}  # the second: an earlier layout's


def read_map(path):
    """The input sections placed in the output .text (and in the hot section
    of an earlier layout): (address, size, name, file)."""
    sections = []
    inside = False
    pending = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line[0].isspace():
                # An output section, or another top-level line; a long
                # section name has its address on the next line.
                inside = line.split()[0] in OUTPUT_TEXT
                pending = None
                continue
            if not inside:
                continue
            if pending is not None:
                m = ADDR_LINE.match(line)
                if m:
                    sections.append((int(m.group(1), 16), int(m.group(2), 16), pending, m.group(3).strip()))
                pending = None
                continue
            m = TEXT_INPUT.match(line)
            if not m:
                continue
            if m.group(2) is None:
                pending = m.group(1)  # a long name: address, size and file on the next line
            else:
                sections.append((int(m.group(2), 16), int(m.group(3), 16), m.group(1), m.group(4).strip()))
    return sorted(s for s in sections if s[1] > 0)


def read_profile(path):
    """Executed instruction addresses (absolute, as the process ran) and the
    names of the functions they belong to, first address of each."""
    addresses = set()
    names = {}
    current = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("fn="):  # names uncompressed: --compress-strings=no
                current = line[3:].strip()
            elif line.startswith("0x"):  # a cost line: positions absolute (--compress-pos=no)
                addr = int(line.split()[0], 16)
                addresses.add(addr)
                if current and current not in names:
                    names[current] = addr
    return addresses, names


def link_addresses(binary):
    """Function symbol -> link-time address, from nm."""
    out = subprocess.run(["nm", "--defined-only", binary], check=True, capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            result.setdefault(parts[2], int(parts[0], 16))
    return result


def load_base(names, symbols):
    """Where the process mapped the binary: the most common difference
    between a function's first executed address and its link address."""
    votes = Counter()
    for name, addr in names.items():
        if name in symbols:
            votes[addr - symbols[name]] += 1
    if not votes:
        sys.exit("hot_text: no function of the profile is in the binary's symbols (is the profile from --demangle=no?)")
    base, count = votes.most_common(1)[0]
    return base, count, sum(votes.values())


def file_pattern(obj):
    """A linker-script file pattern for a map's file column."""
    m = re.match(r"^(.*)\((.*)\)$", obj)
    if m:  # an archive member: *libcrypto.a:member.o
        return "*" + m.group(1).rsplit("/", 1)[-1] + ":" + m.group(2)
    return "*" + obj.rsplit("/", 1)[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--map", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--what", default="an idle process", help="what the profile ran (for the header)")
    args = ap.parse_args()

    sections = read_map(args.map)
    if not sections:
        sys.exit(f"hot_text: no .text input sections in {args.map}")
    starts = [s[0] for s in sections]
    executed, names = read_profile(args.profile)
    base, agree, total = load_base(names, link_addresses(args.binary))

    hot = set()  # indexes into sections
    outside = 0
    for addr in executed:
        link = addr - base
        i = bisect.bisect_right(starts, link) - 1
        if i >= 0 and link < sections[i][0] + sections[i][1]:
            hot.add(i)
        else:
            outside += 1  # other code: .plt, .init, or not this binary
    names_seen = Counter(s[2] for s in sections)
    lines = []
    size = 0
    for i in sorted(hot):
        _, length, name, obj = sections[i]
        size += length
        # A section name that only this input has (a function's own section;
        # template copies are one kept COMDAT) needs no file: it stays right
        # when the kept copy moves to another object.
        lines.append(f"    *({name})" if names_seen[name] == 1 else f"    {file_pattern(obj)}({name})")
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(
            "/* Generated by scripts/hot-text.sh: do not edit. The code "
            + args.what
            + " runs,\n   laid out together (src/common/resident_code.hpp says why). "
            + f"{len(lines)} input sections, {size} bytes. */\n"
        )
        out.write("SECTIONS\n{\n  .text.honeycomb_hot :\n  {\n")
        out.write("\n".join(sorted(set(lines))) + "\n")
        out.write("  }\n}\nINSERT BEFORE .text;\n")
    print(
        f"hot_text: {len(executed)} instructions executed, {outside} outside the binary's .text; "
        f"load base 0x{base:x} ({agree} of {total} functions agree); "
        f"{len(lines)} input sections, {size / 1024:.0f} KiB of {sum(s[1] for s in sections) / 1024:.0f} KiB -> {args.out}"
    )


if __name__ == "__main__":
    main()
