"""Fixtures for the E-utilities client tests: fake time and gateway factories."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from litmine.fetch.entrez import EntrezGateway
from tests.entrez_replay import EntrezReplay, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock; its ``sleep`` records waits instead of sleeping."""
    return FakeClock()


@pytest.fixture
def make_gateway(
    entrez_replay: EntrezReplay, clock: FakeClock
) -> Iterator[Callable[..., EntrezGateway]]:
    """Build gateways aimed at the replay server; keyword arguments override settings.

    ``transport=`` is passed to the gateway instead of the settings.
    """
    made: list[EntrezGateway] = []

    def make(**overrides: Any) -> EntrezGateway:
        transport = overrides.pop("transport", None)
        gateway = EntrezGateway(
            entrez_replay.settings(**overrides),
            sleep=clock.sleep,
            clock=clock,
            transport=transport,
            rng=random.Random(1234),
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., EntrezGateway]) -> EntrezGateway:
    """A gateway with the replay server's default test settings."""
    return make_gateway()
