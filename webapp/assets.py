"""Front-end libraries from a CDN, pinned, with subresource integrity.

The versions here are the contract with `tests/browser/package.json`: the browser tests
install the same versions from the npm registry and serve them in place of the CDN.
"""

from __future__ import annotations

from dataclasses import dataclass

CDN = "https://cdn.jsdelivr.net/npm"


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    path: str
    integrity: str

    @property
    def url(self) -> str:
        return f"{CDN}/{self.package}@{self.version}/{self.path}"


HTMX = Asset(
    "htmx.org",
    "2.0.11",
    "dist/htmx.min.js",
    "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
)
HTMX_SSE = Asset(
    "htmx-ext-sse",
    "2.2.4",
    "dist/sse.min.js",
    "sha384-A986SAtodyH8eg8x8irJnYUk7i9inVQqYigD6qZ9evobksGNIXfeFvDwLSHcp31N",
)
CHART_JS = Asset(
    "chart.js",
    "4.5.1",
    "dist/chart.umd.min.js",
    "sha384-jb8JQMbMoBUzgWatfe6COACi2ljcDdZQ2OxczGA3bGNeWe+6DChMTBJemed7ZnvJ",
)

ALL = (HTMX, HTMX_SSE, CHART_JS)
