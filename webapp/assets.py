"""Front-end libraries from a CDN, pinned, with subresource integrity, and the copy of
each this server keeps in `static/vendor/` (with its licence).

With PORTAL_ASSETS=cdn (the default) a page loads each library from the CDN, then
`static/asset-fallback.js`, which loads this server's copy of any library that did not
arrive (no internet, a CDN outage, a blocked host). With PORTAL_ASSETS=local it loads
the copies only. Both ways carry the same integrity hash: the copies are the CDN's files.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from markupsafe import Markup, escape

CDN = "https://cdn.jsdelivr.net/npm"
VENDOR = "/static/vendor"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    path: str
    integrity: str
    # The global the library defines: missing after its script ran, it did not load.
    defines: str

    @property
    def url(self) -> str:
        return f"{CDN}/{self.package}@{self.version}/{self.path}"

    @property
    def local(self) -> str:
        return f"{VENDOR}/{self.package}@{self.version}/{self.path.rsplit('/', 1)[-1]}"


HTMX = Asset(
    "htmx.org",
    "2.0.11",
    "dist/htmx.min.js",
    "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
    "htmx",
)
HTMX_SSE = Asset(
    "htmx-ext-sse",
    "2.2.4",
    "dist/sse.min.js",
    "sha384-A986SAtodyH8eg8x8irJnYUk7i9inVQqYigD6qZ9evobksGNIXfeFvDwLSHcp31N",
    # It defines no global of its own: it cannot have run without htmx, so it is loaded
    # again whenever htmx was.
    "htmx",
)
CHART_JS = Asset(
    "chart.js",
    "4.5.1",
    "dist/chart.umd.min.js",
    "sha384-jb8JQMbMoBUzgWatfe6COACi2ljcDdZQ2OxczGA3bGNeWe+6DChMTBJemed7ZnvJ",
    "Chart",
)

ALL = (HTMX, HTMX_SSE, CHART_JS)
FALLBACK_SCRIPT = "/static/asset-fallback.js"


def _tag(src: str, asset: Asset) -> str:
    return (
        f'<script src="{escape(src)}" integrity="{asset.integrity}" '
        'crossorigin="anonymous"></script>'
    )


def scripts(source: str, *wanted: Asset) -> Markup:
    """The script tags of `wanted`, in order, from `source` (PORTAL_ASSETS)."""
    if source == "local":
        return Markup("\n".join(_tag(a.local, a) for a in wanted))
    fallbacks = orjson.dumps([[a.defines, a.local, a.integrity] for a in wanted]).decode()
    tags = [_tag(a.url, a) for a in wanted]
    tags.append(f'<script src="{FALLBACK_SCRIPT}" data-fallbacks="{escape(fallbacks)}"></script>')
    return Markup("\n".join(tags))
