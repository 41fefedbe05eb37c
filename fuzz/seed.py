#!/usr/bin/env python3
"""Seeds the fuzz corpora from the project's fixtures.

    python3 fuzz/seed.py

corpus/read_bytes: every fixture workbook under 64 KB, prefixed with the byte
that makes the target read it as a whole .xlsx (0), .xls (1) or .ods (2); and
the parts the target wraps in a package of its own: xlsx sheets (4), xlsx
shared strings (5), ods content.xml (6). corpus/parse_value: the spellings of
numbers and periods that FORMS.md lists.
"""

import glob
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
READ = os.path.join(HERE, "corpus", "read_bytes")
VALUE = os.path.join(HERE, "corpus", "parse_value")


def main():
    os.makedirs(READ, exist_ok=True)
    os.makedirs(VALUE, exist_ok=True)
    n = 0

    def put(tag, data):
        nonlocal n
        with open(os.path.join(READ, "seed%03d" % n), "wb") as f:
            f.write(bytes([tag]) + data)
        n += 1

    files = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/data/*/*")))
    files += sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/bad/*")))
    files += sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/hostile/*")))
    files += sorted(glob.glob(os.path.join(ROOT, "templates/forms/*")))
    for path in files:
        ext = path.rsplit(".", 1)[-1]
        tag = {"xlsx": 0, "xls": 1, "ods": 2}.get(ext)
        if tag is None or os.path.getsize(path) > 64 * 1024:
            continue
        with open(path, "rb") as f:
            data = f.read()
        put(tag, data)
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                sheets = [m for m in names if m.startswith("xl/worksheets/") and m.endswith(".xml")]
                if sheets and len(z.read(sheets[0])) < 64 * 1024:
                    put(4, z.read(sheets[0]))
                if "xl/sharedStrings.xml" in names:
                    put(5, z.read("xl/sharedStrings.xml"))
                if "content.xml" in names and len(z.read("content.xml")) < 64 * 1024:
                    put(6, z.read("content.xml"))
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError):
            pass
    values = ["1,234.5", "１２３．４", " 56.7 ", "12.5%", "—", "-", "/", "－",
              "2020年1-6月", "2020年1—6月", "2020年1~6月", "2020年6月", "2020年1-6月份",
              "2020.6", "2020年", "2020年度", "1e308", "-0", "+.5e-3", "12,345,678.9%"]
    for i, v in enumerate(values):
        with open(os.path.join(VALUE, "v%02d" % i), "w", encoding="utf-8") as f:
            f.write(v)
    print("%d reader seeds, %d value seeds" % (n, len(values)))


if __name__ == "__main__":
    main()
