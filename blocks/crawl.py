"""How the product-name crawl behaves: politeness, limits, and (demo, tests) a local
copy of the shops to fetch the pages from."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (compatible; GlamiraCatalogBot/1.0; +https://github.com/bahela-glamira/pipelines)"
)


class ProductCrawl(Block):
    """Settings of the Scrapy crawl of Glamira product pages.

    Production leaves `rewrite_to` empty and crawls the real product URLs; the demo
    serves its sample catalog on 127.0.0.1 and points the crawl there.

        ```python
        from blocks import ProductCrawl
        ProductCrawl(concurrent_requests_per_domain=2, download_delay=1.0).save("glamira-crawl")
        ```
    """

    _block_type_name = "Product Crawl Settings"
    _block_type_slug = "pipelines-product-crawl"
    _description = "Politeness and limits of the Glamira product-name crawl."

    user_agent: str = Field(default=DEFAULT_USER_AGENT)
    concurrent_requests_per_domain: int = Field(default=4, ge=1)
    download_delay: float = Field(default=0.25, ge=0)
    autothrottle: bool = Field(default=True, description="Adapt the delay to the site's response times.")
    retry_times: int = Field(default=3, ge=0)
    download_timeout: float = Field(default=20, gt=0)
    obey_robots: bool = True
    max_products_per_run: int = Field(
        default=5_000, ge=1, description="Crawl at most this many products a day."
    )
    timeout_seconds: float = Field(default=3_600, gt=0, description="Stop the crawl after this long.")
    rewrite_to: str | None = Field(
        default=None,
        description="Fetch every product URL from this base instead (https://www.glamira.de/x.html "
        "as <rewrite_to>/www.glamira.de/x.html): a local copy of the shops (demo, tests).",
    )

    def describe(self) -> str:
        target = (
            f"the copy of the shops at {self.rewrite_to}" if self.rewrite_to else "the live product pages"
        )
        return f"product crawl of {target} ({self.concurrent_requests_per_domain}/domain, {self.download_delay}s delay)"

    async def check(self, timeout: float = 20.0) -> str:
        """Settings only: there is nothing to reach before a run."""
        return "settings only: nothing to reach before a run"

    @classmethod
    def local_copy(cls, url: str) -> ProductCrawl:
        """A crawl of a copy of the shops served on this machine, so no need to be gentle
        (robots.txt is still obeyed, failures still recorded)."""
        return cls(
            rewrite_to=url,
            concurrent_requests_per_domain=16,
            download_delay=0.0,
            autothrottle=False,
            download_timeout=10,
        )
