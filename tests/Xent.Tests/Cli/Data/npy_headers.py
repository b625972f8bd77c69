#!/usr/bin/python3
"""Writes npy-headers.jsonl: .npy header edge cases and whether NumPy's np.load accepts each.

NpyHeaderTests reads the file and checks that xent's reader accepts exactly the headers NumPy accepts (with the
same dtype and shape). Rerun after adding a case (needs numpy; the tests themselves do not):

    /usr/bin/python3 tests/Xent.Tests/Cli/Data/npy_headers.py
"""
import json, os, struct, sys, tempfile
import numpy as np

DATA = np.arange(6, dtype='<f4').tobytes()  # every case holds 24 bytes of data (six float32 or three float64...)
BASE = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"


def shape(s):
    return "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % s


def descr(d):
    return "{'descr': %s, 'fortran_order': False, 'shape': (6,), }" % d


CASES = [
    # (name, header text or bytes, major, pad to 64 bytes with spaces and a newline)
    ("numpy's own", BASE, 1, True),
    ("version 2.0", BASE, 2, True),
    ("version 3.0", BASE, 3, True),
    ("no padding, no newline", BASE, 1, False),
    ("unaligned data", BASE + "   \n", 1, False),
    ("NUL padding", BASE.encode() + b"\0\0\n", 1, False),
    ("tab padding", BASE + "\t\t\n", 1, False),
    ("form feed padding", BASE + "\f\n", 1, False),
    ("vertical tab padding", BASE + "\v\n", 1, False),
    ("CR LF padding", BASE + "\r\n", 1, False),
    ("CR padding", BASE + "\r", 1, False),
    ("no-break space padding", BASE.encode() + b"\xa0\n", 1, False),
    ("0x1c padding", BASE + "\x1c\n", 1, False),
    ("leading space", " " + BASE, 1, True),
    ("leading tab", "\t" + BASE, 1, True),
    ("leading newline", "\n" + BASE, 1, True),
    ("leading form feed", "\f\n" + BASE, 1, True),
    ("indented second line", "  \n  " + BASE, 1, True),
    ("newlines inside brackets", "{'descr': '<f4',\n 'fortran_order': False, 'shape': (2,\n 3), }", 1, True),
    ("comments", "{'descr': '<f4', # c\n 'fortran_order': False, 'shape': (2, 3), } # end", 1, True),
    ("comment swallowing the brace", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)#}", 1, True),
    ("continuation at the end", BASE + "\\\n", 1, True),
    ("continuation inside a string", "{'descr': '<\\\nf4', 'fortran_order': False, 'shape': (2, 3)}", 1, True),
    ("semicolon after", BASE + ";", 1, True),
    ("text after", BASE + "x", 1, True),
    ("trailing comma after the dict", BASE + ",", 1, True),
    ("no trailing comma", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 1, True),
    ("no spaces", "{'descr':'<f4','fortran_order':False,'shape':(2,3)}", 1, True),
    ("double quotes", '{"descr": "<f4", "fortran_order": False, "shape": (2, 3), }', 1, True),
    ("dict in parentheses", "(" + BASE + ")", 1, True),
    ("keys reordered", "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 1, True),
    ("repeated key, last wins", "{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, True),
    ("extra key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 1, True),
    ("missing key", "{'descr': '<f4', 'shape': (2, 3)}", 1, True),
    ("int key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 1: 2}", 1, True),
    ("not a dict", "['descr', '<f4']", 1, True),
    ("shape as a list", shape("[2, 3]"), 1, True),
    ("shape as an int", shape("6"), 1, True),
    ("shape (6) is an int", shape("(6)"), 1, True),
    ("shape as a set", shape("{6}"), 1, True),
    ("shape with a bool", shape("(True, 6)"), 1, True),
    ("shape with a float", shape("(2.0, 3)"), 1, True),
    ("shape in hex and octal", shape("(0x2, 0o3)"), 1, True),
    ("shape in binary", shape("(0b10, 3)"), 1, True),
    ("shape with underscores", shape("(2, 0_3)"), 1, True),
    ("shape with a plus", shape("(+2, 3)"), 1, True),
    ("shape with a double minus", shape("(--2, 3)"), 1, True),
    ("shape with a minus in parentheses", shape("(-(-2), 3)"), 1, True),
    ("shape 2L, version 1.0", shape("(2L, 3L)"), 1, True),
    ("shape 2L, version 3.0", shape("(2L, 3L)"), 3, True),
    ("shape 3l", shape("(2, 3l)"), 1, True),
    ("shape nested parentheses", shape("((2, 3))"), 1, True),
    ("shape trailing comma", shape("(2, 3,)"), 1, True),
    ("shape double comma", shape("(2, 3,,)"), 1, True),
    ("shape leading zero", shape("(02, 3)"), 1, True),
    ("shape negative", shape("(-2, -3)"), 1, True),
    ("shape too large", shape("(99999999999999999999999, 0)"), 1, True),
    ("fortran_order 0", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", 1, True),
    ("fortran_order in parentheses", "{'descr': '<f4', 'fortran_order': (False), 'shape': (2, 3)}", 1, True),
    ("fortran_order None", "{'descr': '<f4', 'fortran_order': None, 'shape': (2, 3)}", 1, True),
    ("descr joined strings", descr("'<' 'f4'"), 1, True),
    ("descr hex escape", descr("'\\x3cf4'"), 1, True),
    ("descr unicode escape", descr("'\\u003cf4'"), 1, True),
    ("descr octal escape", descr("'\\074f4'"), 1, True),
    ("descr \\N{...} escape", descr(r"'\N{LESS-THAN SIGN}f4'"), 1, True),
    ("descr \\N{...} escapes, any case", descr(r"'\N{less-than sign}\N{Latin Small Letter F}\N{DIGIT FOUR}'"), 1, True),
    ("key \\N{...} escape", r"{'\N{LATIN SMALL LETTER D}escr': '<f4', 'fortran_order': False, 'shape': (6,), }", 1, True),
    ("descr \\N{...} of a non-ASCII character", descr(r"'<f4\N{GREEK SMALL LETTER ALPHA}'"), 1, True),
    ("descr \\N{...} of an unknown name", descr(r"'\N{NO SUCH CHARACTER}f4'"), 1, True),
    ("descr \\N without braces", descr(r"'\Nf4'"), 1, True),
    ("descr \\N{} empty", descr(r"'\N{}f4'"), 1, True),
    ("descr bytes \\N{...}", descr(r"b'\N{LESS-THAN SIGN}f4'"), 1, True),
    ("descr raw", descr("r'<f4'"), 1, True),
    ("descr u prefix", descr("u'<f4'"), 1, True),
    ("descr bytes", descr("b'<f4'"), 1, True),
    ("descr f-string", descr("f'<f4'"), 1, True),
    ("descr triple quotes", descr("'''<f4'''"), 1, True),
    ("descr with a newline", descr("'''<f4\n'''"), 1, True),
    ("descr None", descr("None"), 1, True),
    ("descr f4", descr("'f4'"), 1, True),
    ("descr =f4", descr("'=f4'"), 1, True),
    ("descr |f4", descr("'|f4'"), 1, True),
    ("descr float32", descr("'float32'"), 1, True),
    ("descr f", descr("'f'"), 1, True),
    ("descr <f", descr("'<f'"), 1, True),
    ("descr <float32", descr("'<float32'"), 1, True),
    ("descr d", "{'descr': 'd', 'fortran_order': False, 'shape': (3,), }", 1, True),
    ("descr e", "{'descr': 'e', 'fortran_order': False, 'shape': (12,), }", 1, True),
    ("descr i", descr("'i'"), 1, True),
    ("descr q", "{'descr': 'q', 'fortran_order': False, 'shape': (3,), }", 1, True),
    ("descr long", "{'descr': 'long', 'fortran_order': False, 'shape': (3,), }", 1, True),
    ("descr >f4", descr("'>f4'"), 1, True),
    ("descr ' f4'", descr("' f4'"), 1, True),
    ("version 3.0 UTF-8 comment", (BASE + " # \u00e9").encode("utf8"), 3, True),
    ("version 3.0 invalid UTF-8", BASE.encode() + b" # \xe9", 3, True),
    ("version 1.0 latin-1 comment", BASE.encode() + b" # \xe9", 1, True),
    ("non-ASCII outside strings", BASE.encode() + b" \xe9", 1, True),
    ("header of 9990 characters", BASE + " " * 9900, 1, True),
    ("header of 10166 characters", BASE + " " * 10100, 2, True),
]


def build(header, major, pad):
    h = header if isinstance(header, bytes) else header.encode("latin1")
    prefix = 10 if major == 1 else 12
    if pad:
        total = (prefix + len(h) + 1 + 63) // 64 * 64
        h = h + b" " * (total - prefix - len(h) - 1) + b"\n"
    length = struct.pack("<H" if major == 1 else "<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + length + h


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy-headers.jsonl")
    with tempfile.TemporaryDirectory() as tmp, open(out, "w") as f:
        path = os.path.join(tmp, "case.npy")
        for name, header, major, pad in CASES:
            prefix_and_header = build(header, major, pad)
            with open(path, "wb") as g:
                g.write(prefix_and_header + DATA)
            try:
                a = np.load(path)
                result = {"accepted": True, "dtype": a.dtype.str, "shape": list(a.shape)}
            except Exception as e:  # numpy raises ValueError, TypeError, UnicodeDecodeError, ...
                result = {"accepted": False, "numpy_error": f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"}
            f.write(json.dumps({"name": name, "file_hex": prefix_and_header.hex(), **result}) + "\n")
    print(f"wrote {len(CASES)} cases to {out} (numpy {np.__version__}, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
