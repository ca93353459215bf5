"""One Milvus Lite server on one host, shared by every bordermatch server and worker there.

Embedded Milvus Lite (an ``index_uri`` that is a path) opens its data directory in the
calling process and locks it (``flock``), so a second process on the same path fails with
``DataDirLockedError``. Milvus Lite 3 also ships a gRPC server speaking the Milvus
protocol; run once, it lets any number of processes connect with ``index_uri =
"http://HOST:PORT"``, as they would to a Milvus server.

Milvus Lite's engine takes one writer per collection at a time (its own server runs
requests on a thread pool without serialising writes), so this server runs writing calls
one at a time and lets reads run in parallel. Across hosts, use a Milvus server or
cluster (``index_uri = "http://milvus:19530"``): Milvus Lite has no replication.
"""

from __future__ import annotations

import threading
from concurrent import futures
from pathlib import Path
from typing import Any

# Calls that change a collection or the catalogue; everything else only reads.
WRITES = frozenset({
    "CreateCollection", "DropCollection", "Insert", "Upsert", "Delete", "CreateIndex",
    "DropIndex", "LoadCollection", "ReleaseCollection", "CreatePartition", "DropPartition",
    "Flush", "TruncateCollection", "CreateDatabase", "DropDatabase", "AlterDatabase",
    "RenameCollection", "CreateAlias", "AlterAlias", "DropAlias", "AlterCollection",
    "LoadPartitions", "ReleasePartitions", "ManualCompaction",
})


def serialised_servicer(db: Any) -> Any:
    """Milvus Lite's servicer with its writing calls behind one lock."""
    from milvus_lite.adapter.grpc.servicer import MilvusServicer

    lock = threading.Lock()

    def guarded(name: str) -> Any:
        call = getattr(MilvusServicer, name)

        def method(self: Any, request: Any, context: Any) -> Any:
            with lock:
                return call(self, request, context)
        method.__name__ = name
        return method

    cls = type("SerialisedMilvusServicer", (MilvusServicer,),
               {n: guarded(n) for n in WRITES if hasattr(MilvusServicer, n)})
    return cls(db)


def start(data_dir: Path, host: str = "127.0.0.1", port: int = 19530,
          workers: int = 8) -> tuple[Any, Any, int]:
    """Start serving ``data_dir`` (created if absent); returns (server, db, bound port).
    Stop with ``server.stop(grace)`` then ``db.close()``, which releases the directory."""
    import grpc
    from milvus_lite import MilvusLite
    from pymilvus.grpc_gen import milvus_pb2_grpc

    data_dir.mkdir(parents=True, exist_ok=True)
    db = MilvusLite(str(data_dir))
    size = 256 * 1024 * 1024  # Milvus standalone's message limit
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         options=[("grpc.max_receive_message_length", size),
                                  ("grpc.max_send_message_length", size),
                                  # pymilvus pings every 10 s, idle or not; gRPC's
                                  # defaults answer that with GOAWAY (too_many_pings).
                                  ("grpc.keepalive_permit_without_calls", 1),
                                  ("grpc.http2.min_recv_ping_interval_without_data_ms",
                                   5000),
                                  ("grpc.http2.max_ping_strikes", 0)])
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(serialised_servicer(db), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        db.close()
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, db, bound
