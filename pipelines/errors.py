"""Errors a person acts on: each says which source failed and which setting to check."""


class SourceUnavailable(RuntimeError):
    """A source or sink could not be reached or refused us; the message names the setting."""


class ConfigurationError(RuntimeError):
    """The saved blocks or parameters do not fit together."""


async def gather_all(*awaitables):
    """Await all, concurrently, and let every one finish; then raise if any failed.

    Unlike a bare `asyncio.gather`, a failing source does not leave its sibling running
    unobserved: both end in a state of their own, and when several sources fail the
    error names them all.
    """
    import asyncio

    results = await asyncio.gather(*awaitables, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        if all(isinstance(e, SourceUnavailable) for e in errors):
            raise SourceUnavailable(f"{len(errors)} sources failed: " + " | ".join(str(e) for e in errors))
        raise errors[0]
    return results
