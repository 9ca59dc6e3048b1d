"""The demo, beside the product and never under it: realistic sample data for both
businesses (MongoDB dumps, Cloudinary pages, a Glamira catalog, an IP2Location BIN built
offline) and the stand-in shop the product-name crawl reaches locally.

No module of flows/, tasks/, blocks/ or formats/ imports it, and the production image
leaves it out: the `pipelines demo` and `sample-data` commands, the tests and the
benchmarks use it.
"""
