"""Mail: SendGrid in production, `.eml` files in an outbox folder by default.

A report is built once as an `Email` (HTML, plain text, attachments, inline images) and
either block delivers it, so what lands in the outbox is byte for byte what a
stakeholder would receive.
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from prefect.blocks.core import Block
from prefect_email import EmailServerCredentials
from pydantic import Field, SecretStr

from pipelines.errors import SourceUnavailable


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str
    content_id: str | None = None  # set for images shown inline (`<img src="cid:...">`)

    @property
    def inline(self) -> bool:
        return self.content_id is not None


@dataclass(frozen=True)
class Email:
    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)

    def to_mime(self, sender: str, recipients: list[str]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = self.subject
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="pipelines.local")
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        html_part = message.get_payload()[-1]
        for item in self.attachments:
            maintype, subtype = item.mime_type.split("/", 1)
            if item.inline:
                html_part.add_related(
                    item.content,
                    maintype=maintype,
                    subtype=subtype,
                    cid=f"<{item.content_id}>",
                    filename=item.filename,
                )
            else:
                message.add_attachment(
                    item.content, maintype=maintype, subtype=subtype, filename=item.filename
                )
        return message

    def to_sendgrid(self, sender: str, recipients: list[str]) -> dict:
        name, address = parseaddr(sender)
        body: dict = {
            "personalizations": [{"to": [{"email": r} for r in recipients]}],
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": self.subject,
            "content": [
                {"type": "text/plain", "value": self.text},
                {"type": "text/html", "value": self.html},
            ],
        }
        if self.attachments:
            body["attachments"] = [
                {
                    "content": base64.b64encode(a.content).decode(),
                    "filename": a.filename,
                    "type": a.mime_type,
                    "disposition": "inline" if a.inline else "attachment",
                    **({"content_id": a.content_id} if a.inline else {}),
                }
                for a in self.attachments
            ]
        return body


class Outbox(Block):
    """The embedded default mailer: each message becomes `<path>/<name>.eml`.

    Open the file with any mail client (or `python -m email` tooling) to see exactly
    what would have been sent. Re-sending under the same name replaces the file.
    """

    _block_type_name = "Mail Outbox Folder"
    _block_type_slug = "pipelines-outbox"
    _description = "Writes mail as .eml files to a folder instead of sending it."

    path: str
    sender: str = Field(default="Bahela & Glamira pipelines <pipelines@localhost>")
    recipients: list[str] = Field(default_factory=lambda: ["stakeholders@localhost"])

    def describe(self) -> str:
        return f"outbox {self.path}"

    async def check(self, timeout: float = 20.0) -> str:
        """The folder is writable, or can be created by the first mail."""
        folder = Path(self.path).expanduser()
        if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return f"{folder} is a writable folder"
        nearest = next((p for p in folder.parents if p.exists()), None)
        if not folder.exists() and nearest and nearest.is_dir() and os.access(nearest, os.W_OK | os.X_OK):
            return f"{folder} does not exist yet; the first mail creates it"
        raise SourceUnavailable(
            f"{self.describe()} is not a folder this worker can write to. Check path of the Outbox block."
        )

    async def send(self, email: Email, name: str) -> str:
        folder = Path(self.path).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.eml"
        content = email.to_mime(self.sender, self.recipients).as_bytes()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, target)
        return str(target)


class SendGrid(Block):
    """SendGrid's v3 Mail Send API.

    Example:
        ```python
        from pydantic import SecretStr
        from blocks import SendGrid
        SendGrid(api_key=SecretStr("..."), sender="Bahela Reports <reports@bahela.id>",
                 recipients=["owner@bahela.id"]).save("bahela-mailer")
        ```
    """

    _block_type_name = "SendGrid Mailer"
    _block_type_slug = "pipelines-sendgrid"
    _description = "Sends the pipelines' reports through SendGrid."

    api_key: SecretStr
    sender: str = Field(description='"Name <address>" of a verified SendGrid sender.')
    recipients: list[str]
    api_host: str = Field(default="https://api.sendgrid.com")

    def describe(self) -> str:
        return f"SendGrid at {self.api_host} to {len(self.recipients)} recipient(s)"

    async def check(self, timeout: float = 20.0) -> str:
        """The API key's scopes (GET /v3/scopes): the key is accepted and may send mail.
        Nothing is sent."""
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(f"{self.api_host.rstrip('/')}/v3/scopes", headers=headers)
        except httpx.RequestError as exc:
            raise SourceUnavailable(
                f"SendGrid at {self.api_host} is unreachable ({type(exc).__name__}). "
                "Check api_host of the SendGrid block."
            ) from None
        if response.status_code in (401, 403):
            raise SourceUnavailable(
                f"SendGrid refused the API key (HTTP {response.status_code}). Check api_key of the SendGrid block."
            )
        try:
            scopes = response.json()["scopes"] if response.status_code == 200 else None
        except (ValueError, KeyError, TypeError):
            scopes = None
        if not isinstance(scopes, list):
            raise SourceUnavailable(
                f"SendGrid at {self.api_host} answered GET /v3/scopes with HTTP {response.status_code}, "
                "not a list of scopes. Check api_host of the SendGrid block."
            )
        if "mail.send" not in scopes:
            raise SourceUnavailable(
                "SendGrid accepted the API key, but it lacks the mail.send scope: give the key "
                "Mail Send access in SendGrid, or put another key in api_key of the SendGrid block."
            )
        return "API key accepted, with the mail.send scope (nothing sent)"

    async def send(self, email: Email, name: str) -> str:
        return await asyncio.to_thread(self._send, email.to_sendgrid(self.sender, self.recipients))

    def _send(self, body: dict) -> str:
        from python_http_client.exceptions import HTTPError
        from sendgrid import SendGridAPIClient

        client = SendGridAPIClient(api_key=self.api_key.get_secret_value(), host=self.api_host)
        try:
            response = client.send(body)
        except HTTPError as exc:
            detail = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
            hint = " Check api_key of the SendGrid block." if exc.status_code in (401, 403) else ""
            raise SourceUnavailable(
                f"SendGrid refused the message (HTTP {exc.status_code}: {str(detail)[:300]}).{hint}"
            ) from None
        except OSError as exc:
            raise SourceUnavailable(f"SendGrid at {self.api_host} is unreachable: {exc}") from None
        message_id = response.headers.get("X-Message-Id", "") if response.headers else ""
        return f"SendGrid accepted (HTTP {response.status_code}) {message_id}".strip()


class SmtpMailer(Block):
    """Mail over SMTP, through prefect-email's `EmailServerCredentials` (host, port,
    SSL/STARTTLS, login).

    Example:
        ```python
        from prefect_email import EmailServerCredentials
        from blocks import SmtpMailer
        SmtpMailer(credentials=EmailServerCredentials.load("smtp"), sender="alerts@bahela.id",
                   recipients=["oncall@bahela.id"]).save("pipelines-alerts-mailer")
        ```
    """

    _block_type_name = "SMTP Mailer"
    _block_type_slug = "pipelines-smtp-mailer"
    _description = "Sends the pipelines' mail through an SMTP server."

    credentials: EmailServerCredentials
    sender: str
    recipients: list[str]

    def describe(self) -> str:
        return f"SMTP {self.credentials.smtp_server}:{self.credentials.smtp_port or ''} to {len(self.recipients)} recipient(s)"

    async def check(self, timeout: float = 20.0) -> str:
        """Connect and log in, as sending does; no message."""
        return await asyncio.to_thread(self._log_in, timeout)

    def _log_in(self, timeout: float) -> str:
        # The connection `credentials.get_server()` opens, with a timeout it has no way to
        # take: a server that never answers must not hold the check (or its process) forever.
        import smtplib
        import ssl

        from prefect_email.credentials import SMTPServer, SMTPType

        creds = self.credentials
        host = creds.smtp_server.value if isinstance(creds.smtp_server, SMTPServer) else creds.smtp_server
        kind = SMTPType[creds.smtp_type] if isinstance(creds.smtp_type, str) else creds.smtp_type
        port = creds.smtp_port or kind.value
        context = (
            ssl.create_default_context()
            if creds.verify
            else ssl._create_unverified_context(protocol=ssl.PROTOCOL_TLS_CLIENT)
        )
        try:
            if kind is SMTPType.SSL:
                server = smtplib.SMTP_SSL(host, port, context=context, timeout=timeout)
            else:
                server = smtplib.SMTP(host, port, timeout=timeout)
            try:
                if kind is SMTPType.STARTTLS:
                    server.starttls(context=context)
                if creds.username:
                    server.login(creds.username, creds.password.get_secret_value())
                else:
                    server.noop()
            finally:
                server.quit()
        except (smtplib.SMTPException, OSError) as exc:
            raise SourceUnavailable(
                f"SMTP server {host}:{port} refused or is unreachable: {type(exc).__name__}: {exc}. "
                "Check smtp_server, smtp_port, smtp_type, username and password of the SMTP mailer's credentials."
            ) from None
        return (
            f"logged in as {creds.username} (nothing sent)" if creds.username else "connected (no login set)"
        )

    async def send(self, email: Email, name: str) -> str:
        return await asyncio.to_thread(self._send, email)

    def _send(self, email: Email) -> str:
        import smtplib

        try:
            server = self.credentials.get_server()
            try:
                refused = server.send_message(email.to_mime(self.sender, self.recipients))
            finally:
                server.quit()
        except (smtplib.SMTPException, OSError) as exc:
            raise SourceUnavailable(
                f"SMTP server {self.credentials.smtp_server} refused or is unreachable: "
                f"{type(exc).__name__}: {exc}. Check the SMTP mailer block's credentials."
            ) from None
        accepted = len(self.recipients) - len(refused)
        return f"SMTP accepted for {accepted} of {len(self.recipients)} recipient(s)"
