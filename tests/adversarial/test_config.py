"""test_config.py — adversarial cases for the YAML documents every program reads (issue 12): the same
hostile document given as steerd's config (`--check-config`, exit 78), as a model YAML (`steerctl model
info`, exit 1) and as steer-train's config (exit 78): an alias bomb ("billion laughs"), nesting
100,000 deep, a file over the size limit, NUL and other control bytes, an empty file, a top-level
list, duplicate keys, tabs, binary garbage, invalid UTF-8. Each must fail with exactly one line
naming the file and, where there is one, line:col — no crash, no hang, no memory blow-up, no echo
of the file's bytes."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adv  # noqa: E402

BOMB = "".join("%s: &%s [%s]\n" % (c, c, ",".join(["*" + p] * 9 if p else ['"x"'] * 9))
               for c, p in zip("abcdefghi", [None] + list("abcdefgh")))

# name -> (bytes, a regex the one error line must match after "<file>")
DOCUMENTS = {
    "alias_bomb": (BOMB.encode(), r":2:\d+: YAML aliases are not supported"),
    "deep_nesting": (b"a: " + b"[" * 100000 + b"]" * 100000 + b"\n", r":1:\d+: nesting deeper than \d+ levels"),
    "over_size_limit": (b"# " + b"x" * (17 << 20) + b"\n", r": file is \d+ bytes, larger than the limit of \d+"),
    "nul_byte": (b"key:\x00 {a: b}\n", r":1:\d+: malformed YAML: control characters are not allowed"),
    "empty": (b"", r":1:1: empty document"),
    "top_level_list": (b"- a\n- b\n", r":1:1: .*expected a mapping"),
    "duplicate_key": (b"name: a\nname: b\n", r":2:1: duplicate key 'name' \(first at line 1\)"),
    "tab_indent": (b"a:\n\tb: 1\n", r":2:1: malformed YAML"),
    "binary": (bytes(range(256)) * 4, r":\d+:\d+: malformed YAML"),
    "bad_utf8": (b"name: \xc3\x28\xff\xfe\n", r":\d+:\d+: malformed YAML"),
}


class HostileDocuments(adv.AdvCase):
    def check(self, args, rc, path, pattern):
        r = adv.run(args, timeout=60)
        line = self.assert_fails(r, rc, re.escape(path) + pattern)
        lines = [ln for ln in r.err.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, "more than one line: %r" % r)
        self.assertLess(len(line), 600, "an error line that long echoes input: %r" % r)
        return r

    def test_every_document_in_every_reader(self):
        for name, (data, pattern) in DOCUMENTS.items():
            path = self.path(name + ".yaml", data, mode="wb")
            with self.subTest(document=name, reader="steerd config"):
                self.check([adv.STEERD, "--check-config", path], adv.EX_CONFIG, path, pattern)
            with self.subTest(document=name, reader="model YAML"):
                self.check([adv.STEERCTL, "model", "info", path], 1, path, pattern)
            with self.subTest(document=name, reader="steer-train config"):
                self.check([adv.STEER_TRAIN, path], adv.EX_CONFIG, path, pattern)


if __name__ == "__main__":
    unittest.main()
