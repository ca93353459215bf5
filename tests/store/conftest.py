from tests.store.service_fixtures import (  # noqa: F401
    admin,
    blob_keys,
    blobs,
    clock,
    db_engine,
    db_url,
    pg_url,
    sessions,
)
