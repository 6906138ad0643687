"""Assertions the SPCS suites make, as functions so that their failure messages can be tested."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# 19530 Milvus gRPC, 9091 Milvus metrics/management (CVE-2026-26190), 2379 etcd: never public.
FORBIDDEN_PUBLIC_PORTS = {
    19530: "Milvus gRPC",
    9091: "Milvus metrics and /management (CVE-2026-26190)",
    2379: "etcd",
}


def public_endpoint_problems(service: str, endpoints: Iterable[Mapping[str, Any]]) -> list[str]:
    """SHOW ENDPOINTS rows of ``service`` -> one message per forbidden public port."""
    problems = []
    for endpoint in endpoints:
        port = endpoint.get("port")
        public = str(endpoint.get("is_public")).lower() == "true"
        if public and port in FORBIDDEN_PUBLIC_PORTS:
            problems.append(
                f"service {service} endpoint {endpoint['name']!r} makes port {port} public "
                f"({FORBIDDEN_PUBLIC_PORTS[port]})"
            )
    return problems


def grant_differences(expected: set[tuple[str, ...]], actual: set[tuple[str, ...]]) -> list[str]:
    missing = sorted(expected - actual)
    unexpected = sorted(actual - expected)
    return [f"missing grant: {g}" for g in missing] + [f"unexpected grant: {g}" for g in unexpected]
