"""Write static/vendor/weui/weui.subset.css: WeUI's stylesheet with only the rules our pages use.

The member and staff pages must stay under 200 KB on a weak 4G connection (issue 9), and the
full WeUI build alone is 188 KB. A rule is kept when every WeUI class it names is used
somewhere in templates/ or static/js/ (class names are looked up as plain text, so classes
put together in Jinja or JavaScript must appear whole somewhere), or when it names no WeUI
class at all (the theme variables, element rules, keyframes). ``@media`` and ``@supports``
blocks are filtered the same way, rule by rule.

    python tools/weui_subset.py          # rewrite the subset
    python tools/weui_subset.py --check  # exit 1 if the subset is out of date (tests do this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "static/vendor/weui/weui.min.css"
SUBSET = ROOT / "static/vendor/weui/weui.subset.css"
WEUI_CLASS = re.compile(r"\.(weui-[A-Za-z0-9_-]+)")
BANNER = (
    "/* WeUI v2.6.26 (MIT, see LICENSE.txt), only the rules our pages use: "
    "tools/weui_subset.py */\n"
)


def used_classes() -> set[str]:
    found: set[str] = set()
    for folder, pattern in ((ROOT / "templates", "*.html"), (ROOT / "static/js", "*.js")):
        for path in folder.rglob(pattern):
            found.update(re.findall(r"weui-[A-Za-z0-9_-]+", path.read_text(encoding="utf-8")))
    return found


def _blocks(css: str) -> list[tuple[str, str]]:
    """Top-level (prelude, body) pairs; a body keeps its nested blocks as text."""
    blocks, depth, start, prelude_end = [], 0, 0, 0
    for position, char in enumerate(css):
        if char == "{":
            if depth == 0:
                prelude_end = position
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                blocks.append((css[start:prelude_end].strip(), css[prelude_end + 1 : position]))
                start = position + 1
    return blocks


def _keep_rule(selectors: str, used: set[str]) -> str | None:
    """The selectors of a rule worth keeping (unused alternatives dropped), or None."""
    kept = [s for s in selectors.split(",") if set(WEUI_CLASS.findall(s)) <= used]
    return ",".join(kept) if kept else None


def subset(css: str, used: set[str]) -> str:
    out = []
    for prelude, body in _blocks(css):
        if prelude.startswith(("@media", "@supports")):
            inner = subset(body, used)
            if inner:
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            out.append(f"{prelude}{{{body}}}")  # keyframes, font faces: kept whole
        else:
            selectors = _keep_rule(prelude, used)
            if selectors is not None:
                out.append(f"{selectors}{{{body}}}")
    return "".join(out)


def build() -> str:
    css = re.sub(r"/\*.*?\*/", "", SOURCE.read_text(encoding="utf-8"), flags=re.S)
    return BANNER + subset(css, used_classes()) + "\n"


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        current = SUBSET.read_text(encoding="utf-8") if SUBSET.exists() else ""
        if current != text:
            print(f"{SUBSET.relative_to(ROOT)} is out of date: run python tools/weui_subset.py")
            return 1
        return 0
    SUBSET.write_text(text, encoding="utf-8")
    print(f"wrote {SUBSET.relative_to(ROOT)}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
