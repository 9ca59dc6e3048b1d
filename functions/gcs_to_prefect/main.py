"""gcs_to_prefect: GCS "object finalized" notifications -> `lake.object.finalized` events
on the Prefect API.

Our ingest flows emit that event themselves when they land an object; this function does
the same for objects written by anything else, so the `glamira-load` deployment trigger
sees one kind of event whoever wrote the file. One HTTP entry point, `gcs_to_prefect`,
accepts both deliveries:

- a Pub/Sub push request (JSON envelope `{"message": {"data", "attributes", ...},
  "subscription"}`) from a bucket notification in the JSON_API_V1 format;
- an Eventarc CloudEvent `google.cloud.storage.object.v1.finalized`, binary mode
  (`ce-*` headers, the object's metadata as the body) or structured mode
  (`Content-Type: application/cloudevents+json`).

The caller is verified before the body is read: a Google-signed OIDC token in
`Authorization: Bearer ...` whose signature (Google's public certs), issuer, expiry and
audience (`EXPECTED_AUDIENCE`) check out and, when `EXPECTED_SERVICE_ACCOUNT` is set,
whose verified `email` is that push identity. With `CALLER_VERIFIED_BY=cloud-run-iam`
the token's signature is taken as checked by Cloud Run's IAM invoker check (which
removes it before the request reaches the container); the claims are still checked.
See README.md for why both modes exist.

Only the lake's own objects are forwarded (lake_layout.py). The bucket must be listed
in `LAKE_BUCKETS`; without it the function does not start, so it fails closed. The name
must start with the lake's folder (`LAKE_FOLDER`, or the entry's own `bucket/folder`),
and the rest must be exactly `<source>/[_rejects/]<dataset>/dt=YYYY-MM-DD/<file>`, with
a source and dataset the project lands, a real day from 2000-01-01 to tomorrow (UTC),
and a manifest or a part. Every forwarded manifest can start a load.

Answers: 200 an event was posted (or had been: the id is deterministic); 204 nothing to
forward (not a finalize event, or not the lake's own object; the reason is in the
`X-Skip-Reason` header and the log); 400 a malformed request from a verified caller;
401/403 the caller is not verified; 500 the Prefect API did not take the event (Pub/Sub
redelivers, and the same event id makes the retry idempotent); 503 Google's certs could
not be read.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework
import google.auth.transport
import google.auth.transport.requests
import requests
from google.auth import exceptions as auth_exceptions
from google.oauth2 import id_token
from lake_layout import Lake, LakeObject, OutsideLake, locate, parse_lakes

EVENT_NAME = "lake.object.finalized"
FINALIZED_CLOUDEVENT = "google.cloud.storage.object.v1.finalized"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"  # what verify_oauth2_token uses
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
SIGNATURE_REMOVED = "SIGNATURE_REMOVED_BY_GOOGLE"
PLATFORM_MODES = ("cloud-run-iam",)
CLOCK_SKEW_SECONDS = 10


# -- configuration ----------------------------------------------------------------------


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class Config:
    prefect_api_url: str
    prefect_api_key: str | None
    audiences: tuple[str, ...]
    service_accounts: tuple[str, ...]
    certs_url: str
    caller_verified_by: str | None
    timeout: float
    lakes: tuple[Lake, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Config:
        """Read and check the environment; a missing setting stops the function from
        starting (a failed deploy), never an endpoint that accepts unverified calls."""
        problems = []
        api_url = (env.get("PREFECT_API_URL") or "").strip().rstrip("/")
        if not api_url:
            problems.append("PREFECT_API_URL is not set (the Prefect API to post events to)")
        audiences = _csv(env.get("EXPECTED_AUDIENCE"))
        if not audiences:
            problems.append(
                "EXPECTED_AUDIENCE is not set (the function's URL, the audience of the push OIDC tokens)"
            )
        verified_by = (env.get("CALLER_VERIFIED_BY") or "").strip() or None
        if verified_by and verified_by not in PLATFORM_MODES:
            problems.append(
                f"CALLER_VERIFIED_BY must be one of {PLATFORM_MODES} or unset, not {verified_by!r}"
            )
        service_accounts = _csv(env.get("EXPECTED_SERVICE_ACCOUNT"))
        if verified_by and not service_accounts:
            problems.append(
                "CALLER_VERIFIED_BY=cloud-run-iam needs EXPECTED_SERVICE_ACCOUNT: every principal with "
                "run.invoker (project owners and editors too) passes the IAM check"
            )
        lakes: tuple[Lake, ...] = ()
        try:
            lakes = parse_lakes(env.get("LAKE_BUCKETS"), env.get("LAKE_FOLDER"))
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise RuntimeError("gcs_to_prefect is not configured: " + "; ".join(problems))
        return cls(
            prefect_api_url=api_url,
            prefect_api_key=(env.get("PREFECT_API_KEY") or "").strip() or None,
            audiences=audiences,
            service_accounts=service_accounts,
            certs_url=(env.get("OIDC_CERTS_URL") or "").strip() or GOOGLE_CERTS_URL,
            caller_verified_by=verified_by,
            timeout=float(env.get("PREFECT_POST_TIMEOUT_SECONDS") or 15),
            lakes=lakes,
        )


def log(severity: str, message: str, **fields: Any) -> None:
    """One JSON line on stderr: Cloud Logging reads `severity` and `message` from it.
    Never pass a token or a key here."""
    print(json.dumps({"severity": severity, "message": message, **fields}, default=str), file=sys.stderr)


# -- the lake layout and the event ------------------------------------------------------


def event_id(bucket: str, name: str, generation: str) -> uuid.UUID:
    """The id the ingest flows give the same object's event (blocks/lake.py
    `announce`): one object generation is one event, however often it is announced."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{bucket}/{name}/{generation}")


def _occurred(time_created: Any) -> str:
    if isinstance(time_created, str) and time_created:
        try:
            moment = datetime.fromisoformat(time_created.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        except ValueError:
            pass
    return datetime.now(UTC).isoformat()


def build_event(bucket: str, name: str, generation: str, metadata: dict, where: LakeObject) -> dict:
    """The `lake.object.finalized` event for one object generation (the shared contract)."""
    generation = str(generation)
    return {
        "id": str(event_id(bucket, name, generation)),
        "occurred": _occurred(metadata.get("timeCreated")),
        "event": EVENT_NAME,
        "resource": {
            "prefect.resource.id": f"gs://{bucket}/{name}",
            "prefect.resource.name": name,
            "lake.bucket": bucket,
            "lake.object": name,
            "lake.generation": generation,
            "lake.source": where.source,
            "lake.dataset": where.dataset,
            "lake.day": where.day.isoformat(),
            "lake.file": where.file,
        },
        "related": [],
        "payload": {
            "bucket": bucket,
            "name": name,
            "generation": generation,
            "size": metadata.get("size"),
            "content_type": metadata.get("contentType"),
            "time_created": metadata.get("timeCreated"),
            "md5_hash": metadata.get("md5Hash"),
        },
    }


# -- answers ----------------------------------------------------------------------------


class Answer(Exception):
    """Ends the request with a status (and, except for 204, a JSON body)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}

    def response(self) -> flask.Response:
        if self.status == 204:  # no body allowed: the reason travels in a header
            return flask.Response(status=204, headers={"X-Skip-Reason": self.reason, **self.headers})
        return flask.Response(
            json.dumps({"error" if self.status >= 400 else "status": self.reason}),
            status=self.status,
            mimetype="application/json",
            headers=self.headers,
        )


def _unauthorized(reason: str) -> Answer:
    return Answer(401, reason, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


# -- verifying the caller ----------------------------------------------------------------


class CachedCertsRequest(google.auth.transport.Request):
    """google-auth's requests transport, keeping each GET answer (Google's public certs)
    for its Cache-Control max-age, so a token check is not a network round trip."""

    def __init__(self, default_ttl: float = 300, max_ttl: float = 6 * 3600) -> None:
        self._inner = google.auth.transport.requests.Request()
        self._cache: dict[str, tuple[float, float, google.auth.transport.Response]] = {}
        self._lock = threading.Lock()
        self._default_ttl, self._max_ttl = default_ttl, max_ttl

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
        if cached and cached[1] > now:
            return cached[2]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or 10, **kwargs)
        if response.status == 200:
            with self._lock:
                self._cache[url] = (now, now + self._ttl(response.headers), response)
        return response

    def _ttl(self, headers) -> float:
        match = re.search(r"max-age=(\d+)", (headers or {}).get("Cache-Control", "") or "")
        return min(float(match.group(1)), self._max_ttl) if match else self._default_ttl

    def forget(self, url: str, older_than: float) -> bool:
        """Drop a cached answer fetched more than `older_than` seconds ago (a key rotation:
        a token names a key id the cached set does not have yet)."""
        with self._lock:
            cached = self._cache.get(url)
            if cached and time.monotonic() - cached[0] > older_than:
                del self._cache[url]
                return True
        return False


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _unverified_claims(token: str) -> tuple[dict, str]:
    """The payload and signature segment of a JWT, without checking the signature."""
    try:
        _, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _unauthorized("malformed token") from exc
    if not isinstance(claims, dict):
        raise _unauthorized("malformed token")
    return claims, signature


class CallerVerifier:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.certs = CachedCertsRequest()

    def verify(self, headers) -> dict:
        """The caller's verified claims, or an Answer 401/403 (503 if Google's certs
        cannot be read)."""
        if self.config.caller_verified_by == "cloud-run-iam":
            # Cloud Run checks X-Serverless-Authorization when it is present and then
            # passes Authorization through unchecked: read the header it checked.
            checked = (
                "X-Serverless-Authorization" if "X-Serverless-Authorization" in headers else "Authorization"
            )
            token = _bearer(headers.get(checked))
        else:
            token = _bearer(headers.get("Authorization"))
        if not token:
            raise _unauthorized("missing bearer token")
        claims, signature = _unverified_claims(token)
        if self.config.caller_verified_by and signature == SIGNATURE_REMOVED:
            self._check_times(claims)
            if claims.get("aud") not in self.config.audiences:
                raise _unauthorized("token audience is not this function")
        else:
            claims = self._verify_signed(token)
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise _unauthorized("token is not issued by Google")
        if self.config.service_accounts and not (
            claims.get("email") in self.config.service_accounts and claims.get("email_verified") is True
        ):
            raise Answer(403, "caller is not the expected service account")
        return claims

    def _verify_signed(self, token: str) -> dict:
        for attempt in (1, 2):
            try:
                return dict(
                    id_token.verify_token(
                        token,
                        self.certs,
                        audience=list(self.config.audiences),
                        certs_url=self.config.certs_url,
                        clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
                    )
                )
            except auth_exceptions.TransportError as exc:
                log("ERROR", "cannot read the OIDC certs", certs_url=self.config.certs_url, error=str(exc))
                raise Answer(503, "cannot read Google's public certs") from exc
            except (auth_exceptions.GoogleAuthError, ValueError) as exc:
                unknown_key = "Certificate for key id" in str(exc)
                if attempt == 1 and unknown_key and self.certs.forget(self.config.certs_url, older_than=60):
                    continue
                raise _unauthorized(f"invalid token: {_reason(exc)}") from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _check_times(claims: dict) -> None:
        now = time.time()
        try:
            expires, issued = float(claims["exp"]), float(claims["iat"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _unauthorized("token has no valid exp/iat") from exc
        if expires < now - CLOCK_SKEW_SECONDS:
            raise _unauthorized("token expired")
        if issued > now + CLOCK_SKEW_SECONDS:
            raise _unauthorized("token used too early")


def _reason(exc: Exception) -> str:
    """A short, token-free reason for the log and the 401 body."""
    text = str(exc)
    if "expired" in text.lower():
        return "token expired"
    if "audience" in text.lower():
        return "token audience is not this function"
    if "signature" in text.lower() or "key id" in text.lower():
        return "signature does not verify against Google's certs"
    return type(exc).__name__


# -- reading the two kinds of delivery ------------------------------------------------


@dataclass(frozen=True)
class Notification:
    kind: str  # "pubsub" or "cloudevent"
    finalized: bool
    bucket: str | None
    name: str | None
    generation: str | None
    metadata: dict
    delivery_id: str | None


MAX_BODY_BYTES = 1024 * 1024  # an object's metadata is a few KiB


def _json_body(request: flask.Request) -> Any:
    request.max_content_length = MAX_BODY_BYTES  # larger bodies get 413
    try:
        return json.loads(request.get_data() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Answer(400, "body is not JSON") from exc


def read_notification(request: flask.Request) -> Notification:
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if request.headers.get("ce-specversion"):
        return _binary_cloudevent(request)
    if content_type == "application/cloudevents+json":
        return _structured_cloudevent(_json_body(request))
    body = _json_body(request)
    if isinstance(body, dict) and isinstance(body.get("message"), dict):
        return _pubsub_push(body["message"])
    raise Answer(400, "neither a Pub/Sub push envelope nor a CloudEvent")


def _pubsub_push(message: dict) -> Notification:
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise Answer(400, "message attributes are not an object")
    metadata: dict = {}
    data = message.get("data")
    if data:  # JSON_API_V1 payload: the object's metadata (empty with payload format NONE)
        try:
            decoded = json.loads(base64.b64decode(data, validate=True))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise Answer(400, "message data is not base64-encoded JSON") from exc
        if not isinstance(decoded, dict):
            raise Answer(400, "message data is not a JSON object")
        metadata = decoded
    return Notification(
        kind="pubsub",
        finalized=attributes.get("eventType") == "OBJECT_FINALIZE",
        bucket=attributes.get("bucketId") or metadata.get("bucket"),
        name=attributes.get("objectId") or metadata.get("name"),
        generation=attributes.get("objectGeneration") or metadata.get("generation"),
        metadata=metadata,
        delivery_id=message.get("messageId") or message.get("message_id"),
    )


def _cloudevent(ce_type: str | None, ce_id: str | None, data: Any) -> Notification:
    metadata = data if isinstance(data, dict) else {}
    return Notification(
        kind="cloudevent",
        finalized=ce_type == FINALIZED_CLOUDEVENT,
        bucket=metadata.get("bucket"),
        name=metadata.get("name"),
        generation=metadata.get("generation"),
        metadata=metadata,
        delivery_id=ce_id,
    )


def _binary_cloudevent(request: flask.Request) -> Notification:
    ce_type = request.headers.get("ce-type")
    data = _json_body(request) if ce_type == FINALIZED_CLOUDEVENT else None
    return _cloudevent(ce_type, request.headers.get("ce-id"), data)


def _structured_cloudevent(body: Any) -> Notification:
    if not isinstance(body, dict):
        raise Answer(400, "structured CloudEvent is not a JSON object")
    data = body.get("data")
    if data is None and body.get("data_base64"):
        try:
            data = json.loads(base64.b64decode(body["data_base64"], validate=True))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise Answer(400, "CloudEvent data_base64 is not base64-encoded JSON") from exc
    return _cloudevent(body.get("type"), body.get("id"), data)


# -- posting the event --------------------------------------------------------------------


class PrefectEvents:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._local = threading.local()  # a requests.Session is not shared between threads

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, event: dict) -> None:
        headers = {"Content-Type": "application/json"}
        if self.config.prefect_api_key:
            headers["Authorization"] = f"Bearer {self.config.prefect_api_key}"
        url = f"{self.config.prefect_api_url}/events"
        try:
            response = self._session().post(
                url, data=json.dumps([event]), headers=headers, timeout=(5, self.config.timeout)
            )
        except requests.RequestException as exc:
            log("ERROR", "Prefect API unreachable", url=url, error=type(exc).__name__, event_id=event["id"])
            raise Answer(500, "Prefect API unreachable; retry") from exc
        if response.status_code >= 300:
            log(
                "ERROR",
                "Prefect API refused the event",
                url=url,
                status=response.status_code,
                answer=response.text[:300],
                event_id=event["id"],
            )
            raise Answer(500, f"Prefect API answered {response.status_code}; retry")


# -- the entry point ----------------------------------------------------------------------

CONFIG = Config.from_env()
VERIFIER = CallerVerifier(CONFIG)
PREFECT = PrefectEvents(CONFIG)
log("INFO", "forwarding the objects of these lakes only", lakes=[lake.describe() for lake in CONFIG.lakes])
if not CONFIG.service_accounts:
    log(
        "WARNING",
        "EXPECTED_SERVICE_ACCOUNT is not set: any Google-signed token for this audience is accepted; "
        "set it to the push subscription's (and Eventarc trigger's) service account",
    )


@functions_framework.http
def gcs_to_prefect(request: flask.Request) -> flask.Response:
    """HTTP entry point for Pub/Sub push requests and Eventarc CloudEvents."""
    try:
        if request.method != "POST":
            raise Answer(405, "POST only", {"Allow": "POST"})
        claims = VERIFIER.verify(request.headers)  # before reading the body
        notification = read_notification(request)
        return _forward(notification, claims)
    except Answer as answer:
        if answer.status >= 400:
            log(
                "WARNING" if answer.status < 500 else "ERROR",
                "request not forwarded",
                status=answer.status,
                reason=answer.reason,
            )
        return answer.response()


def _forward(notification: Notification, claims: dict) -> flask.Response:
    context = {"delivery": notification.kind, "delivery_id": notification.delivery_id}
    if not notification.finalized:
        log("INFO", "not an object-finalized notification: skipped", **context)
        return Answer(204, "not an object-finalized notification").response()
    if not (notification.bucket and notification.name and notification.generation):
        raise Answer(400, "notification names no bucket, object and generation")
    try:
        where = locate(notification.bucket, notification.name, CONFIG.lakes, datetime.now(UTC).date())
    except OutsideLake as outside:
        log(
            outside.severity,
            "object is not the lake's own: skipped",
            reason=outside.reason,
            bucket=notification.bucket,
            object=notification.name,
            lakes=[lake.describe() for lake in CONFIG.lakes],
            **context,
        )
        return Answer(204, outside.reason).response()
    event = build_event(
        notification.bucket, notification.name, notification.generation, notification.metadata, where
    )
    PREFECT.post(event)
    log(
        "INFO",
        "event posted",
        event=EVENT_NAME,
        event_id=event["id"],
        resource=event["resource"]["prefect.resource.id"],
        generation=event["resource"]["lake.generation"],
        caller=claims.get("email"),
        **context,
    )
    return flask.jsonify(
        status="posted",
        event=EVENT_NAME,
        event_id=event["id"],
        resource=event["resource"],
    )
