"""The Cloud Function in functions/gcs_to_prefect, run by the real `functions-framework`
CLI as a subprocess, against the real `prefect server` of the session.

The OIDC tokens of the push requests are signed here with a fresh RSA key, and a local
HTTP server publishes its certificate in the format of Google's v1 certs endpoint
(`{key id: PEM certificate}`); the function's `OIDC_CERTS_URL` points at it, so the
production verification code (google-auth's `id_token.verify_token`) runs unchanged.
Where a test needs to see exactly what the function sends to the Prefect API (the API key
header, retries after an error), a recording HTTP server stands in for the Prefect API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt
from google.auth import jwt as google_jwt

from tests.support.http_servers import LocalHTTPServer, RecordingServer, Reply, Request
from tests.support.modules import load_source
from tests.support.processes import ROOT, free_port, http_ready, start

pytestmark = pytest.mark.integration

SOURCE = ROOT / "functions" / "gcs_to_prefect" / "main.py"
FUNCTIONS_FRAMEWORK = ROOT / ".venv" / "bin" / "functions-framework"
EVENT = "lake.object.finalized"
AUDIENCE = "https://gcs-to-prefect.functions.test"
PUSH_ACCOUNT = "gcs-push@test-proj.iam.gserviceaccount.com"
OTHER_ACCOUNT = "someone-else@other-proj.iam.gserviceaccount.com"
BUCKET = "glamira-lake-test"  # the function's LAKE_BUCKETS unless a test says otherwise
MANIFEST = "glamira/events/dt=2026-11-20/_manifest.json"
PREFECT_KEY = "local-test-prefect-key"  # not a real key: the stand-in API only checks it is sent
TIME_CREATED = "2026-11-21T02:14:07.512Z"


# -- Google's side: certs, tokens, notifications ------------------------------------------


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class GoogleCerts(LocalHTTPServer):
    """`/oauth2/v1/certs` as Google serves it: key ids to self-signed PEM certificates."""

    def __init__(self) -> None:
        super().__init__()
        self.key_id = "local-test-key-1"
        key = _rsa_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local-test-oidc")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .sign(key, hashes.SHA256())
        )
        self.certs = {self.key_id: cert.public_bytes(serialization.Encoding.PEM).decode()}
        self.signer = crypt.RSASigner.from_string(_pem(key), key_id=self.key_id)
        # a key Google never published, under the same key id: a forged token
        self.forger = crypt.RSASigner.from_string(_pem(_rsa_key()), key_id=self.key_id)

    @property
    def certs_url(self) -> str:
        return f"{self.url}/oauth2/v1/certs"

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path == "/oauth2/v1/certs":
            return Reply(200, self.certs, {"Cache-Control": "public, max-age=3600"})
        return Reply(404, {"error": "not found"})

    def token(self, *, signer=None, lifetime: int = 3600, issued_ago: int = 0, **claims) -> str:
        """A Pub/Sub push OIDC token: Google's issuer, our audience, the push account."""
        now = int(time.time()) - issued_ago
        payload = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "azp": "110000000000000000001",
            "sub": "110000000000000000001",
            "email": PUSH_ACCOUNT,
            "email_verified": True,
            "iat": now,
            "exp": now + lifetime,
            **claims,
        }
        return google_jwt.encode(signer or self.signer, payload).decode()

    def stripped(self, **claims) -> str:
        """The token as Cloud Run hands it to the container after its IAM check."""
        header, payload, _ = self.token(**claims).split(".")
        return f"{header}.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"


def _metadata(name: str, generation: str, bucket: str = BUCKET) -> dict:
    content = f"contents of {name}".encode()
    return {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{generation}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{name.replace('/', '%2F')}",
        "name": name,
        "bucket": bucket,
        "generation": generation,
        "metageneration": "1",
        "contentType": "application/json" if name.endswith(".json") else "application/octet-stream",
        "timeCreated": TIME_CREATED,
        "updated": TIME_CREATED,
        "storageClass": "STANDARD",
        "timeStorageClassUpdated": TIME_CREATED,
        "size": str(len(content)),
        "md5Hash": base64.b64encode(hashlib.md5(content).digest()).decode(),
        "crc32c": "AAAAAA==",
        "etag": "CPjBxZvL0JEDEAE=",
    }


def push(
    name: str, generation: str = "1763691247512345", event_type: str = "OBJECT_FINALIZE", bucket: str = BUCKET
) -> dict:
    """A Pub/Sub push request for a GCS notification in the JSON_API_V1 format."""
    attributes = {
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/7",
        "eventType": event_type,
        "payloadFormat": "JSON_API_V1",
        "bucketId": bucket,
        "objectId": name,
        "objectGeneration": generation,
        "eventTime": TIME_CREATED,
    }
    message_id = str(int(hashlib.sha1(f"{name}{generation}{event_type}".encode()).hexdigest()[:12], 16))
    return {
        "message": {
            "attributes": attributes,
            "data": base64.b64encode(json.dumps(_metadata(name, generation, bucket)).encode()).decode(),
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2026-11-21T02:14:07.9Z",
            "publish_time": "2026-11-21T02:14:07.9Z",
        },
        "subscription": "projects/test-proj/subscriptions/gcs-to-prefect",
    }


def cloudevent_headers(name: str, generation: str, ce_type: str = "google.cloud.storage.object.v1.finalized"):
    """Eventarc's binary-mode CloudEvent headers for a Cloud Storage event."""
    return {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-type": ce_type,
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{BUCKET}",
        "ce-subject": f"objects/{name}",
        "ce-id": "9473021134561234",
        "ce-time": TIME_CREATED,
    }


def expected_id(name: str, generation: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{BUCKET}/{name}/{generation}"))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# -- the Prefect side ---------------------------------------------------------------------


def events_on(api: str, resource_ids: list[str]) -> list[dict]:
    body = {
        "filter": {
            "event": {"name": [EVENT]},
            "resource": {"id": resource_ids},
            "occurred": {
                "since": "2026-01-01T00:00:00+00:00",
                "until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            },
        },
        "limit": 50,
    }
    response = httpx.post(f"{api}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    return response.json()["events"]


def wait_for_events(api: str, resource_id: str, timeout: float = 30) -> list[dict]:
    """The server persists events in batches (every 5 s by default): poll briefly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := events_on(api, [resource_id]):
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {EVENT} event for {resource_id} on the Prefect server after {timeout}s")


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def google():
    with GoogleCerts() as server:
        yield server


@pytest.fixture(scope="module")
def launch(service_logs, google):
    """Start the function with `functions-framework` on 127.0.0.1; returns its URL."""
    services = []

    def launch(name: str, **env: str) -> str:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [
            str(FUNCTIONS_FRAMEWORK),
            "--target",
            "gcs_to_prefect",
            "--source",
            str(SOURCE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        settings = {
            "EXPECTED_AUDIENCE": AUDIENCE,
            "EXPECTED_SERVICE_ACCOUNT": PUSH_ACCOUNT,
            "OIDC_CERTS_URL": google.certs_url,
            "LAKE_BUCKETS": BUCKET,
            "THREADS": "4",
            **env,
        }
        # GET answers 405 once the function is loaded
        services.append(start(name, command, http_ready(url), service_logs, env=settings, timeout=30))
        return url

    yield launch
    for service in reversed(services):
        service.stop()


@pytest.fixture(scope="module")
def function(launch, prefect_server) -> str:
    """The function posting to the session's real Prefect server."""
    return launch("gcs-function", PREFECT_API_URL=prefect_server)


@pytest.fixture(scope="module")
def stand_in():
    """A stand-in Prefect API that records what it is sent (204, like `POST /events`)."""
    with RecordingServer(Reply(204)) as server:
        yield server


@pytest.fixture
def recorder(stand_in):
    stand_in.requests.clear()
    stand_in.replies.clear()
    return stand_in


@pytest.fixture(scope="module")
def keyed_function(launch, stand_in) -> str:
    """Posting to the stand-in with an API key, as to Prefect Cloud."""
    return launch("gcs-function-keyed", PREFECT_API_URL=f"{stand_in.url}/api", PREFECT_API_KEY=PREFECT_KEY)


@pytest.fixture(scope="module")
def platform_function(launch, stand_in) -> str:
    """Behind Cloud Run IAM: the signature was checked, and removed, by the platform."""
    return launch(
        "gcs-function-cloud-run-iam",
        PREFECT_API_URL=f"{stand_in.url}/api",
        CALLER_VERIFIED_BY="cloud-run-iam",
    )


def posted_events(recorder: RecordingServer) -> list[dict]:
    return [event for r in recorder.requests if r.method == "POST" for event in r.json()]


# -- to the real Prefect server ----------------------------------------------------------

MANIFEST_GENERATION = "1763691247512345"
REJECTS = "glamira/_rejects/events/dt=2026-11-19/part-20261120021407a1b2c3-0000.parquet"
REJECTS_GENERATION = "1763600000000042"
DELETED = "glamira/events/dt=2026-11-20/part-0004.parquet"
SKIPPED = [
    ("glamira/events/dt=2026-11-20/part-0001.parquet", "OBJECT_DELETE"),
    ("glamira/events/dt=2026-11-20/part-0002.parquet", "OBJECT_METADATA_UPDATE"),
    ("glamira/events/dt=2026-11-20/part-0003.parquet", "OBJECT_ARCHIVE"),
    ("README.md", "OBJECT_FINALIZE"),
    ("glamira/events/part-0000.parquet", "OBJECT_FINALIZE"),
    ("glamira/events/dt=2026-13-45/part-0000.parquet", "OBJECT_FINALIZE"),
    ("glamira/events/day=2026-11-20/part-0000.parquet", "OBJECT_FINALIZE"),
    ("glamira/_rejects/dt=2026-11-20/part-0000.parquet", "OBJECT_FINALIZE"),
    ("_rejects/events/dt=2026-11-20/part-0000.parquet", "OBJECT_FINALIZE"),
    ("glamira/events/dt=2026-11-20/", "OBJECT_FINALIZE"),
    ("glamira/events/dt=2026-11-20/nested/part-0000.parquet", "OBJECT_FINALIZE"),
]


def refused_cases(google: GoogleCerts) -> dict[str, tuple[dict, int]]:
    return {
        "wrong-audience": (bearer(google.token(aud="https://some-other-function.test")), 401),
        "expired": (bearer(google.token(issued_ago=7200, lifetime=3600)), 401),
        "missing": ({}, 401),
        "not-bearer": ({"Authorization": f"Basic {google.token()}"}, 401),
        "forged-signature": (bearer(google.token(signer=google.forger)), 401),
        "signature-removed": (bearer(google.stripped()), 401),  # trusted only behind Cloud Run IAM
        "not-google-issuer": (bearer(google.token(iss="https://issuer.example.test")), 401),
        "wrong-service-account": (bearer(google.token(email=OTHER_ACCOUNT)), 403),
        "email-not-verified": (bearer(google.token(email_verified=False)), 403),
    }


def refused_name(case: str) -> str:
    """A name the function would forward: only the caller is wrong."""
    return f"glamira/events/dt=2026-11-20/part-{case.replace('-', '')}-0000.parquet"


@pytest.fixture(scope="module")
def delivered(function, google, prefect_server) -> dict[str, httpx.Response]:
    """Every request for the real server, sent once up front, then one valid sentinel
    notification waited for. The server stores events in batches (every 5 s), in order:
    once the sentinel is stored, everything the function posted before it is too, so an
    absent event is really absent -- one wait instead of one per test."""
    answers: dict[str, httpx.Response] = {}

    def send(key: str, headers: dict, body: dict | None = None, content: bytes | None = None) -> None:
        answers[key] = httpx.post(
            function, json=body if content is None else None, content=content, headers=headers, timeout=30
        )

    manifest = push(MANIFEST, MANIFEST_GENERATION)
    send("manifest", bearer(google.token()), manifest)
    # Pub/Sub delivers at least once: the same notification again, with a new token
    send("manifest-again", bearer(google.token()), manifest)
    send(
        "cloudevent",
        {**cloudevent_headers(REJECTS, REJECTS_GENERATION), **bearer(google.token())},
        content=json.dumps(_metadata(REJECTS, REJECTS_GENERATION)).encode(),
    )
    for case, (headers, _) in refused_cases(google).items():
        send(f"refused-{case}", headers, push(refused_name(case)))
    send("not-json", bearer(google.token()), content=b"not json")
    for name, event_type in SKIPPED:
        send(f"skipped-{name}-{event_type}", bearer(google.token()), push(name, event_type=event_type))
    send(
        "cloudevent-deleted",
        {
            **cloudevent_headers(DELETED, "1", "google.cloud.storage.object.v1.deleted"),
            **bearer(google.token()),
        },
        content=b"{}",
    )
    sentinel = f"glamira/events/dt=2026-11-20/part-{uuid.uuid4().hex}-0000.parquet"
    send("sentinel", bearer(google.token()), push(sentinel))
    assert answers["sentinel"].status_code == 200, answers["sentinel"].text
    wait_for_events(prefect_server, f"gs://{BUCKET}/{sentinel}")
    return answers


def test_pubsub_push_becomes_one_prefect_event_even_when_redelivered(delivered, prefect_server):
    first, again = delivered["manifest"], delivered["manifest-again"]
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["event_id"] == again.json()["event_id"] == expected_id(MANIFEST, MANIFEST_GENERATION)

    resource_id = f"gs://{BUCKET}/{MANIFEST}"
    [event] = events_on(prefect_server, [resource_id])  # one, though posted twice
    assert event["id"] == expected_id(MANIFEST, MANIFEST_GENERATION)
    assert event["event"] == EVENT
    assert event["resource"] == {
        "prefect.resource.id": resource_id,
        "prefect.resource.name": MANIFEST,
        "lake.bucket": BUCKET,
        "lake.object": MANIFEST,
        "lake.generation": MANIFEST_GENERATION,
        "lake.source": "glamira",
        "lake.dataset": "events",
        "lake.day": "2026-11-20",
        "lake.file": "_manifest.json",
    }
    metadata = _metadata(MANIFEST, MANIFEST_GENERATION)
    assert event["payload"] == {
        "bucket": BUCKET,
        "name": MANIFEST,
        "generation": MANIFEST_GENERATION,
        "size": metadata["size"],
        "content_type": "application/json",
        "time_created": TIME_CREATED,
        "md5_hash": metadata["md5Hash"],
    }
    assert datetime.fromisoformat(event["occurred"]) == datetime.fromisoformat(TIME_CREATED)


def test_eventarc_cloudevent_of_a_rejects_partition(delivered, prefect_server):
    assert delivered["cloudevent"].status_code == 200, delivered["cloudevent"].text
    [event] = events_on(prefect_server, [f"gs://{BUCKET}/{REJECTS}"])
    assert event["id"] == expected_id(REJECTS, REJECTS_GENERATION)
    assert {k: v for k, v in event["resource"].items() if k.startswith("lake.")} == {
        "lake.bucket": BUCKET,
        "lake.object": REJECTS,
        "lake.generation": REJECTS_GENERATION,
        "lake.source": "glamira",
        "lake.dataset": "_rejects/events",
        "lake.day": "2026-11-19",
        "lake.file": "part-20261120021407a1b2c3-0000.parquet",
    }


def test_unverified_callers_are_refused_and_emit_nothing(delivered, google, prefect_server):
    for case, (_, status) in refused_cases(google).items():
        response = delivered[f"refused-{case}"]
        assert response.status_code == status, (case, response.status_code, response.text)
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "eyJ" not in response.text  # no token is echoed back
    # a valid token does not make a malformed body acceptable
    assert delivered["not-json"].status_code == 400
    ids = [f"gs://{BUCKET}/{refused_name(case)}" for case in refused_cases(google)]
    assert events_on(prefect_server, ids) == []


def test_other_notifications_and_objects_outside_the_layout_are_skipped(delivered, prefect_server):
    for name, event_type in SKIPPED:
        response = delivered[f"skipped-{name}-{event_type}"]
        assert response.status_code == 204, (name, event_type, response.text)
        assert response.headers["X-Skip-Reason"]
    assert delivered["cloudevent-deleted"].status_code == 204
    ids = [f"gs://{BUCKET}/{name}" for name, _ in SKIPPED] + [f"gs://{BUCKET}/{DELETED}"]
    assert events_on(prefect_server, ids) == []


# -- what goes over the wire to the Prefect API --------------------------------------------


def test_api_key_is_sent_as_bearer_and_a_refused_post_is_retried_idempotently(
    keyed_function, google, recorder
):
    name, generation = "glamira/products/dt=2026-11-20/products.csv", "1763700000000007"
    recorder.replies.append(Reply(503, {"detail": "unavailable"}))
    first = httpx.post(
        keyed_function, json=push(name, generation), headers=bearer(google.token()), timeout=30
    )
    assert first.status_code == 500  # Pub/Sub will redeliver
    retry = httpx.post(
        keyed_function, json=push(name, generation), headers=bearer(google.token()), timeout=30
    )
    assert retry.status_code == 200, retry.text

    assert [r.path for r in recorder.requests] == ["/api/events", "/api/events"]
    assert all(r.headers["Authorization"] == f"Bearer {PREFECT_KEY}" for r in recorder.requests)
    sent = posted_events(recorder)
    assert [e["id"] for e in sent] == [expected_id(name, generation)] * 2  # Prefect keeps one
    assert sent[0]["event"] == EVENT and sent[0]["resource"]["lake.dataset"] == "products"


def test_prefect_api_down_answers_500(launch, google):
    down = launch("gcs-function-no-prefect", PREFECT_API_URL=f"http://127.0.0.1:{free_port()}/api")
    response = httpx.post(down, json=push(MANIFEST), headers=bearer(google.token()), timeout=30)
    assert response.status_code == 500


def test_structured_cloudevent_and_no_key_header_without_a_key(platform_function, google, recorder):
    name, generation = "glamira/locations/dt=2026-11-20/part-0000.parquet", "1763700000000011"
    envelope = {
        "specversion": "1.0",
        "type": "google.cloud.storage.object.v1.finalized",
        "source": f"//storage.googleapis.com/projects/_/buckets/{BUCKET}",
        "subject": f"objects/{name}",
        "id": "9473021134569999",
        "time": TIME_CREATED,
        "datacontenttype": "application/json",
        "data": _metadata(name, generation),
    }
    response = httpx.post(
        platform_function,
        content=json.dumps(envelope),
        headers={"Content-Type": "application/cloudevents+json", **bearer(google.stripped())},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    [request] = recorder.requests
    assert "Authorization" not in request.headers
    [event] = request.json()
    assert event["id"] == expected_id(name, generation)
    assert event["resource"]["lake.dataset"] == "locations"


# -- behind Cloud Run IAM (CALLER_VERIFIED_BY=cloud-run-iam) -------------------------------


def test_behind_cloud_run_iam_the_claims_are_still_checked(platform_function, google, recorder):
    def send(headers: dict, name: str) -> int:
        return httpx.post(platform_function, json=push(name), headers=headers, timeout=30).status_code

    def part(token: str) -> str:
        return f"glamira/events/dt=2026-11-21/part-{token}-0000.parquet"

    assert send(bearer(google.stripped()), part("okstripped")) == 200
    assert send(bearer(google.token()), part("oksigned")) == 200  # an intact signature is verified
    assert send(bearer(google.token(signer=google.forger)), part("forged")) == 401
    assert send(bearer(google.stripped(email=OTHER_ACCOUNT)), part("otheraccount")) == 403
    assert send(bearer(google.stripped(aud="https://elsewhere.test")), part("otheraudience")) == 401
    assert send(bearer(google.stripped(issued_ago=7200, lifetime=3600)), part("expired")) == 401
    assert send({}, part("missing")) == 401
    # Cloud Run checks X-Serverless-Authorization when present and passes Authorization
    # through unchecked: the function must believe the former
    impostor = {
        "X-Serverless-Authorization": f"Bearer {google.stripped(email=OTHER_ACCOUNT)}",
        "Authorization": f"Bearer {google.stripped()}",
    }
    assert send(impostor, part("impostor")) == 403
    not_bearer = {
        "X-Serverless-Authorization": "Basic c29tZW9uZQ==",
        "Authorization": f"Bearer {google.stripped()}",
    }
    assert send(not_bearer, part("notbearer")) == 401
    assert [e["resource"]["lake.file"] for e in posted_events(recorder)] == [
        "part-okstripped-0000.parquet",
        "part-oksigned-0000.parquet",
    ]


# -- only the lake's own objects ---------------------------------------------------------------


@pytest.fixture(scope="module")
def lake_function(launch, stand_in) -> str:
    """The lake at the root of BUCKET (LAKE_BUCKETS, no LAKE_FOLDER), posting to the stand-in."""
    return launch("gcs-function-lake", PREFECT_API_URL=f"{stand_in.url}/api")


@pytest.fixture(scope="module")
def folder_function(launch, stand_in) -> str:
    """The lake in the folder `lake/` of BUCKET, as a GcsBucket block with bucket_folder."""
    return launch("gcs-function-lake-folder", PREFECT_API_URL=f"{stand_in.url}/api", LAKE_FOLDER="lake")


def deliver(function: str, google: GoogleCerts, name: str, bucket: str = BUCKET) -> httpx.Response:
    return httpx.post(function, json=push(name, bucket=bucket), headers=bearer(google.token()), timeout=30)


def test_an_object_of_a_bucket_not_in_lake_buckets_is_skipped(lake_function, google, recorder):
    response = deliver(lake_function, google, MANIFEST, bucket="someone-elses-bucket")

    assert response.status_code == 204
    assert "LAKE_BUCKETS" in response.headers["X-Skip-Reason"]
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("uploads/anyone/glamira/events/dt=2026-11-20/_manifest.json", "is not <source>/"),
        ("acme/events/dt=2026-11-20/_manifest.json", "unknown source"),
        ("glamira/sessions/dt=2026-11-20/_manifest.json", "unknown dataset"),
        ("glamira/events/dt=9999-12-31/_manifest.json", "between 2000-01-01 and tomorrow"),
        ("glamira/events/dt=2026-02-30/_manifest.json", "not a calendar date"),
        ("glamira/events/dt=1999-12-31/_manifest.json", "between 2000-01-01 and tomorrow"),
        ("glamira/events/dt=2026-11-20/notes.txt", "neither _manifest.json nor a part"),
    ],
    ids=[
        "below-another-folder",
        "unknown-source",
        "unknown-dataset",
        "far-future-day",
        "impossible-day",
        "day-before-2000",
        "not-a-part",
    ],
)
def test_an_object_outside_the_lake_layout_is_skipped_with_the_reason(
    lake_function, google, recorder, name, reason
):
    response = deliver(lake_function, google, name)

    assert response.status_code == 204
    assert reason in response.headers["X-Skip-Reason"]
    assert recorder.requests == []


@pytest.mark.parametrize(
    "file", ["part-20261120021407a1b2c3-0003.parquet", "part-0003.parquet"], ids=["new-name", "old-name"]
)
def test_a_part_under_either_naming_is_forwarded(lake_function, google, recorder, file):
    response = deliver(lake_function, google, f"glamira/events/dt=2026-11-20/{file}")

    assert response.status_code == 200, response.text
    assert [event["resource"]["lake.file"] for event in posted_events(recorder)] == [file]


def test_with_a_lake_folder_an_object_under_it_is_forwarded(folder_function, google, recorder):
    response = deliver(folder_function, google, f"lake/{MANIFEST}")

    assert response.status_code == 200, response.text
    [event] = posted_events(recorder)
    assert (event["resource"]["lake.object"], event["resource"]["lake.dataset"]) == (
        f"lake/{MANIFEST}",
        "events",
    )


def test_with_a_lake_folder_an_object_outside_it_is_skipped(folder_function, google, recorder):
    response = deliver(folder_function, google, MANIFEST)

    assert response.status_code == 204
    assert "LAKE_FOLDER" in response.headers["X-Skip-Reason"]
    assert recorder.requests == []


# -- configuration and the pure parts ------------------------------------------------------


def start_without_serving(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """functions-framework with only `env`: a configuration it refuses stops it at import."""
    return subprocess.run(
        [str(FUNCTIONS_FRAMEWORK), "--target", "gcs_to_prefect", "--source", str(SOURCE), "--port", "0"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_an_audience(tmp_path):
    result = start_without_serving(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api", LAKE_BUCKETS=BUCKET)

    assert result.returncode != 0
    assert "EXPECTED_AUDIENCE is not set" in result.stderr


def test_refuses_to_start_without_lake_buckets(tmp_path):
    # fail closed: no allowlist is never "every bucket"
    result = start_without_serving(
        tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api", EXPECTED_AUDIENCE=AUDIENCE
    )

    assert result.returncode != 0
    assert "LAKE_BUCKETS is not set" in result.stderr
    assert "EXPECTED_AUDIENCE" not in result.stderr


@pytest.fixture(scope="module")
def main_module():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
        env.setenv("EXPECTED_AUDIENCE", AUDIENCE)
        env.setenv("EXPECTED_SERVICE_ACCOUNT", PUSH_ACCOUNT)
        env.setenv("LAKE_BUCKETS", BUCKET)
        env.syspath_prepend(str(SOURCE.parent))  # main imports lake_layout beside it, as when deployed
        try:
            return load_source("gcs_to_prefect_main", SOURCE)
        finally:
            sys.modules.pop("lake_layout", None)


def test_event_id_matches_the_ingest_flows(main_module):
    # blocks/lake.py `announce` uses the same name for the same object generation
    assert main_module.event_id(BUCKET, MANIFEST, "17") == uuid.uuid5(
        uuid.NAMESPACE_URL, f"{BUCKET}/{MANIFEST}/17"
    )
