"""GCP credentials for the local stand-ins: a service account generated per test session
(fresh RSA key, never a real one) whose `token_uri` is a local token server, so the
production path -- prefect-gcp's GcpCredentials, google-auth's JWT grant, the storage and
BigQuery clients -- runs unchanged against fake-gcs-server and the BigQuery emulator."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "test-proj"


def service_account_info(token_uri: str, project: str = PROJECT) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "local-test-key",
        "private_key": pem,
        "client_email": f"pipelines@{project}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


def credentials(token_uri: str, project: str = PROJECT):
    from prefect_gcp import GcpCredentials

    return GcpCredentials(service_account_info=service_account_info(token_uri, project), project=project)


def emulator_warehouse(gcp_credentials, api_endpoint: str, dataset_prefix: str | None = None):
    """The BigQuery warehouse block pointed at the emulator, its datasets under a fresh
    prefix (tests share one emulator) unless one is given."""
    import uuid

    from blocks import BigQueryWarehouse

    return BigQueryWarehouse(
        gcp_credentials=gcp_credentials,
        location="US",
        api_endpoint=api_endpoint,
        dataset_prefix=dataset_prefix if dataset_prefix is not None else f"t{uuid.uuid4().hex[:6]}_",
        job_timeout_seconds=60,
    )
