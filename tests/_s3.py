"""A real S3-compatible server for the tests: moto's server mode on a free loopback port."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def moto_s3(mp: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server (its endpoint URL while open), empty, with throw-away credentials
    set through ``mp``; the test skips when moto is not installed."""
    moto_server = pytest.importorskip("moto.server")
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets in the process, shared by every server started in it: a
    # bucket another test filled (same name, other files) would leak into this one
    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
    ).close()
    try:
        yield endpoint
    finally:
        server.stop()


def upload_tree(endpoint: str, bucket: str, folder: Path) -> None:
    """Create ``bucket`` and upload ``folder`` into it under its own name."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    for dirpath, _, files in os.walk(folder):
        for name in files:
            full = Path(dirpath) / name
            s3.upload_file(str(full), bucket, full.relative_to(folder.parent).as_posix())
