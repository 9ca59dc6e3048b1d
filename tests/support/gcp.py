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


def emulator_copy_of(
    duckdb_path: str, folder, gcp_credentials, api_endpoint: str, tables=None, schema="marts"
):
    """A warehouse on the emulator holding the same `schema` tables as a DuckDB file (all of
    them, or `tables`), copied through Parquet files in `folder`: for queries that must
    answer alike on DuckDB and BigQuery."""
    import duckdb
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    warehouse = emulator_warehouse(gcp_credentials, api_endpoint)
    client = bigquery.Client(
        project=PROJECT,
        credentials=gcp_credentials.get_credentials_from_service_account(),
        location="US",
        client_options=ClientOptions(api_endpoint=api_endpoint),
    )
    dataset = bigquery.Dataset(f"{PROJECT}.{warehouse.dataset_prefix}{schema}")
    dataset.location = "US"
    client.create_dataset(dataset, exists_ok=True)
    parquet = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET)
    with duckdb.connect(duckdb_path, read_only=True) as con:
        if tables is None:
            listed = "select table_name from duckdb_tables() where schema_name = ?"
            tables = [name for (name,) in con.execute(listed, [schema]).fetchall()]
        for table in tables:
            file = folder / f"{table}.parquet"
            con.execute(f"copy {schema}.{table} to '{file}' (format parquet)")
            with file.open("rb") as stream:
                client.load_table_from_file(
                    stream, f"{dataset.dataset_id}.{table}", job_config=parquet
                ).result(timeout=120)
    return warehouse
