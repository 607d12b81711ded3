"""Vendor govuk-frontend's compiled CSS and JS under ``api/static/govuk/`` from an unpacked npm package.

    npm pack govuk-frontend@6.6.0 && tar xzf govuk-frontend-6.6.0.tgz
    python scripts/vendor_govuk_frontend.py package

The CSS is changed in two ways only, because this is not a gov.uk service: the GDS Transport ``@font-face``
rules are dropped (the font is licensed for gov.uk domains only) and its name is taken out of every font stack,
so the pages use the system font fallback; the crest image (a Crown mark) is not vendored and its rules are
dropped.  No font or image file is copied.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "api" / "static" / "govuk"
FONT_STACK = 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",arial,sans-serif'
LICENCE = """The MIT License (MIT)

Copyright (c) 2012 - 2025 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def de_brand(css: str) -> str:
    """No GDS Transport (font faces and stacks) and no rule that draws the crest."""
    css = re.sub(r"@font-face\{font-family:GDS Transport;[^}]*\}", "", css)
    css = css.replace("font-family:GDS Transport,arial,sans-serif", "font-family:" + FONT_STACK)
    css = re.sub(r"[^{}]*\{[^{}]*govuk-crest\.svg[^{}]*\}", "", css)
    css = re.sub(r"/\*# sourceMappingURL=[^*]*\*/", "", css)
    if "GDS Transport" in css or "/assets/" in css:
        raise SystemExit("the CSS still names the GDS Transport font or an asset: check this script's patterns")
    return css


def main(package: Path) -> None:
    version = json.loads((package / "package.json").read_text())["version"]
    dist = package / "dist" / "govuk"
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    (OUT / "govuk-frontend.min.css").write_text(de_brand((dist / "govuk-frontend.min.css").read_text()))
    js = (dist / "govuk-frontend.min.js").read_text()
    (OUT / "govuk-frontend.min.js").write_text(re.sub(r"//# sourceMappingURL=\S+\s*$", "", js))
    (OUT / "LICENSE.txt").write_text(LICENCE)
    (OUT / "VERSION").write_text(
        f"govuk-frontend {version} (npm), MIT: compiled CSS (GDS Transport and the crest removed) and JS.\n"
        "Made by scripts/vendor_govuk_frontend.py.\n"
    )
    print(f"govuk-frontend {version} -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
