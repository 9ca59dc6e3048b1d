"""Product names for Glamira: a polite, resumable Scrapy crawl of product pages.

- `runner.crawl(requests, workdir, settings)`: the API the pipeline calls; runs the crawl
  in its own process (`python -m tasks.glamira.crawl.runner <workdir>`).
- `spider`: the spider (parsing only) and `parsing.extract_product`, its pure helper.
- The stand-in shop the demo and the tests crawl is `demo.catalog_server.CatalogServer`.

Nothing is imported here, so `python -m tasks.glamira.crawl.runner` loads each module once.
"""
