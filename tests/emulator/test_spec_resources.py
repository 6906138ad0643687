"""resources in a service spec: Kubernetes quantities, checked when the spec is parsed; limits reach the
container launch (the docker runtime applies them)."""

from __future__ import annotations

import pytest

from spcs_emulator.errors import SnowflakeError
from spcs_emulator.spcs.spec import parse_spec


def spec(resources: str) -> str:
    return '{"spec": {"containers": [{"name": "c", "image": "/d/s/r/i:1", "resources": ' + resources + "}]}}"


@pytest.mark.parametrize(
    ("limits", "cpu", "memory"),
    [
        ('{"cpu": "500m", "memory": "512Mi"}', 0.5, 512 * 2**20),
        ('{"cpu": 2, "memory": "6Gi"}', 2.0, 6 * 2**30),
        ('{"cpu": "0.5", "memory": "1G"}', 0.5, 10**9),
        ('{"memory": 1048576}', None, 2**20),
    ],
)
def test_limits_are_read_as_kubernetes_quantities(limits: str, cpu: float | None, memory: int) -> None:
    [container] = parse_spec(spec('{"requests": {"cpu": "250m"}, "limits": ' + limits + "}")).containers
    assert (container.cpu_limit, container.memory_limit) == (cpu, memory)


def test_no_resources_means_no_limits() -> None:
    [container] = parse_spec('{"spec": {"containers": [{"name": "c", "image": "/d/s/r/i:1"}]}}').containers
    assert (container.cpu_limit, container.memory_limit) == (None, None)


@pytest.mark.parametrize(
    "resources",
    [
        '{"limits": {"cpu": "1Gi"}}',
        '{"limits": {"memory": "500m"}}',
        '{"requests": {"memory": "lots"}}',
        '{"limits": ["cpu"]}',
        '"4 cores"',
    ],
)
def test_what_is_no_quantity_is_an_invalid_spec(resources: str) -> None:
    with pytest.raises(SnowflakeError, match=r"resources|quantity"):
        parse_spec(spec(resources))
