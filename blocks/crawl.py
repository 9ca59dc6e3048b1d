"""How the product-name crawl behaves: politeness, and (embedded default) where the
catalog pages come from."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (compatible; GlamiraCatalogBot/1.0; +https://github.com/bahela-glamira/pipelines)"
)


class ProductCrawl(Block):
    """Settings of the Scrapy crawl of Glamira product pages.

    Production leaves `catalog_folder` empty and crawls the real product URLs; the
    embedded default serves the sample catalog on 127.0.0.1 and points the crawl at it.

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
    catalog_folder: str | None = Field(
        default=None,
        description="Serve these sample pages on 127.0.0.1 instead of the real sites (demo, tests).",
    )

    def describe(self) -> str:
        target = f"sample catalog {self.catalog_folder}" if self.catalog_folder else "the live product pages"
        return f"product crawl of {target} ({self.concurrent_requests_per_domain}/domain, {self.download_delay}s delay)"

    @classmethod
    def sample_catalog(cls, folder: str) -> ProductCrawl:
        """The embedded default: our own sample pages on 127.0.0.1, so no need to be gentle
        (robots.txt is still obeyed, failures still recorded)."""
        return cls(
            catalog_folder=folder,
            concurrent_requests_per_domain=16,
            download_delay=0.0,
            autothrottle=False,
            download_timeout=10,
        )
