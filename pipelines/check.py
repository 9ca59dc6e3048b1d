"""`pipelines check`: every role of `blocks/roles.py`, its saved block, and whether what
the block points at answers.

Each block is looked up by the role's default name among the types that can fill the
role (`blocks.resolve.KINDS`), then asked the cheapest question that proves it: our
blocks answer it themselves (`check()`), the Prefect integrations' blocks are asked
here. Roles are checked concurrently, each within a timeout. Nothing is ever sent to a
person, and no secret is printed: the details are the blocks' own safe descriptions,
and any secret value a message might still quote is blanked out.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from prefect.blocks.core import Block
from prefect.filesystems import LocalFileSystem
from prefect_gcp.cloud_storage import GcsBucket
from prefect_slack import SlackWebhook
from pydantic import BaseModel, SecretBytes, SecretStr

from blocks.lake import Lake
from blocks.resolve import KINDS, describe, saved_block
from blocks.roles import ROLES, Role
from pipelines.errors import SourceUnavailable

DEFAULT_TIMEOUT = 20.0
SECRET_KEYS_OF_KEY_FILES = ("private_key", "private_key_id", "client_secret", "refresh_token")


@dataclass(frozen=True)
class Result:
    role: Role
    block: Block | None
    reachable: str  # yes | NO | missing | not saved (optional)
    detail: str  # what was checked, or what to fix; never a secret

    @property
    def failed(self) -> bool:
        return self.reachable in ("NO", "missing")


async def check_roles(roles: tuple[Role, ...] = ROLES, timeout: float = DEFAULT_TIMEOUT) -> list[Result]:
    return list(await asyncio.gather(*(check_role(role, timeout) for role in roles)))


async def check_role(role: Role, timeout: float = DEFAULT_TIMEOUT) -> Result:
    try:
        block = await asyncio.wait_for(saved_block(role.block, *KINDS[role.kind]), timeout)
    except Exception as exc:  # the Prefect API itself, or a saved block that no longer loads
        return Result(role, None, "NO", f"the saved block does not load: {type(exc).__name__}: {exc}"[:400])
    if block is None:
        if role.optional:
            return Result(role, None, "not saved (optional)", f"to use it, set {role.variables}")
        return Result(role, None, "missing", f"set {role.variables} and run `pipelines setup`")
    return await examine(role, block, timeout)


async def examine(role: Role, block: Block, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """`role`'s result with `block`: what answered, or why the block cannot do its job."""
    try:
        detail = await asyncio.wait_for(check_block(block, timeout), timeout)
    except TimeoutError:
        return Result(role, block, "NO", f"{_described(block)} gave no answer within {timeout:g} s")
    except Exception as exc:  # whatever the failure, the role is not ready: say why
        message = str(exc) if isinstance(exc, SourceUnavailable) else f"{type(exc).__name__}: {exc}"
        return Result(role, block, "NO", redact(message[:600], block))
    return Result(role, block, "yes", redact(detail, block))


async def check_block(block: Block, timeout: float = DEFAULT_TIMEOUT) -> str:
    """What was checked; raises (`SourceUnavailable` with the setting to fix) when the
    block's resource does not answer."""
    if isinstance(block, GcsBucket):
        return await asyncio.to_thread(_list_one_object, block, timeout)
    if isinstance(block, LocalFileSystem):
        return _local_lake(block)
    if isinstance(block, SlackWebhook):
        return _slack_url(block)
    return await block.check(timeout)


def _list_one_object(bucket: GcsBucket, timeout: float) -> str:
    from google.api_core.exceptions import Forbidden, NotFound
    from google.cloud.storage.retry import DEFAULT_RETRY

    where = Lake(bucket).describe()
    folder = bucket.bucket_folder.strip("/")
    try:
        client = bucket.gcp_credentials.get_cloud_storage_client()
        listed = client.list_blobs(
            bucket.bucket,
            prefix=f"{folder}/" if folder else None,
            max_results=1,
            timeout=timeout,
            retry=DEFAULT_RETRY.with_timeout(timeout),
        )
        found = list(listed)
    except NotFound:
        raise SourceUnavailable(
            f"{where}: the bucket does not exist. Check bucket of the GcsBucket block."
        ) from None
    except Forbidden:
        raise SourceUnavailable(
            f"{where}: the service account may not list it. Check gcp_credentials of the GcsBucket block "
            "(it needs storage.objects.list, get, create and delete on the bucket)."
        ) from None
    except Exception as exc:  # unreachable, or the credentials did not turn into a token
        raise SourceUnavailable(
            f"{where} is unreachable ({type(exc).__name__}: {str(exc)[:300]}). Check bucket and gcp_credentials "
            "of the GcsBucket block (a rehearsal against a stand-in needs STORAGE_EMULATOR_HOST here)."
        ) from None
    return "listed (empty so far)" if not found else "listed: holds objects"


def _local_lake(storage: LocalFileSystem) -> str:
    folder = Lake(storage).root()
    if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is a writable folder"
    nearest = next((p for p in folder.parents if p.exists()), None)
    if not folder.exists() and nearest and nearest.is_dir() and os.access(nearest, os.W_OK | os.X_OK):
        return f"{folder} does not exist yet; the first landing creates it"
    raise SourceUnavailable(
        f"local lake {folder} is not a folder this worker can write to. Check basepath of the LocalFileSystem block."
    )


def _slack_url(webhook: SlackWebhook) -> str:
    """Only the URL's form: a request would post to the channel."""
    try:
        url = urlsplit(webhook.url.get_secret_value())
        scheme, host = url.scheme, url.hostname
    except ValueError:  # e.g. a malformed IPv6 host
        scheme, host = "", None
    # plain http only to this machine: a stand-in for Slack in a rehearsal
    local = scheme == "http" and host in ("127.0.0.1", "localhost", "::1")
    if not host or (scheme != "https" and not local):
        raise SourceUnavailable(
            "the Slack webhook URL is not an https URL with a host. Check url of the Slack webhook block "
            "(Slack gives it as https://hooks.slack.com/services/...)."
        )
    return f"a well-formed {scheme} URL on {host} (no message sent)"


def secrets_of(value: object) -> set[str]:
    """Every secret a block holds, nested blocks included, with the password and path of
    the URL-shaped ones (a message may quote a part of a connection string)."""
    found: set[str] = set()
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        secret = secret.decode(errors="replace") if isinstance(secret, bytes) else secret
        found.add(secret)
        try:
            parts = urlsplit(secret)
            found.update(p for p in (parts.password, parts.path) if p and len(p) > 1)
        except ValueError:
            pass
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= secrets_of(getattr(value, name, None))
    elif isinstance(value, dict):
        for item in value.values():
            found |= secrets_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= secrets_of(item)
    elif hasattr(value, "get_secret_value"):  # prefect's SecretDict: a service account's key file
        secret = value.get_secret_value()
        if isinstance(secret, dict):  # its project and e-mail are no secret, and name what to fix
            found |= {str(secret[k]) for k in SECRET_KEYS_OF_KEY_FILES if secret.get(k)}
    return {s for s in found if len(s) >= 4}


def redact(text: str, block: Block) -> str:
    for secret in sorted(secrets_of(block), key=len, reverse=True):
        text = text.replace(secret, "<secret>")
    return text


def _described(block: Block) -> str:
    try:
        return describe(Lake(block) if isinstance(block, GcsBucket | LocalFileSystem) else block)
    except Exception:  # a block too broken to describe itself (a warehouse without a project)
        return f"a {block.get_block_type_name()} block"


def render(results: list[Result]) -> str:
    """The table, then a line per role that needs attention."""
    rows = [("ROLE", "BLOCK", "TYPE", "REACHABLE")]
    for r in results:
        block = redact(_described(r.block), r.block) if r.block else "-"
        kind = r.block.get_block_type_name() if r.block else "-"
        reachable = f"{r.reachable}: {r.detail}" if r.reachable == "yes" else r.reachable
        rows.append((r.role.block, block, kind, reachable))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row[:3])) + "  " + row[3] for row in rows
    ]
    attention = [r for r in results if r.reachable != "yes"]
    if attention:
        lines.append("")
        for r in attention:
            lines.append(f"{r.role.block} ({r.role.what}): {r.reachable}: {r.detail}")
    failed = [r.role.block for r in results if r.failed]
    lines.append("")
    if failed:
        lines.append(f"{len(failed)} of {len(results)} roles are not ready: {', '.join(failed)}.")
    else:
        lines.append(
            f"All {len(results)} roles are ready" + (" (optional ones unsaved)." if attention else ".")
        )
    return "\n".join(lines)
