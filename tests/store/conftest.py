from tests.store.service_fixtures import *  # noqa: F403  (shared fixtures)
