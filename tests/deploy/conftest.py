"""Fixtures: the deployment files set up in a temporary copy, and its locked-down broker."""

from collections.abc import Iterator

import pytest

from tests.deploy.deployment import Deployment, running_broker
from tests.support.broker import Mosquitto


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The deployment files after `deploy/setup.sh` ran on them once."""
    return Deployment.create(tmp_path_factory.mktemp("deployment"))


@pytest.fixture(scope="session")
def locked_broker(deployment: Deployment) -> Iterator[Mosquitto]:
    """A real Mosquitto running the repo's mosquitto.conf, ACL and generated password file."""
    with running_broker(deployment) as (running, _):
        yield running
