"""Fixtures: the deployment files set up in a temporary copy, and its locked-down broker."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.deployment import MOSQUITTO_CONF, Deployment, broker_conf, broker_files
from tests.support.broker import Mosquitto


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The deployment files after `deploy/setup.sh` ran on them once."""
    return Deployment.create(tmp_path_factory.mktemp("deployment"))


@pytest.fixture(scope="session")
def locked_broker(deployment: Deployment) -> Iterator[Mosquitto]:
    """A real Mosquitto running the repo's mosquitto.conf, ACL and generated password file."""
    files = broker_files(deployment)
    conf = broker_conf(MOSQUITTO_CONF.read_text(encoding="utf-8"), files)
    try:
        with Mosquitto(conf) as running:
            yield running
    finally:
        shutil.rmtree(files, ignore_errors=True)


@pytest.fixture
def broker_log(locked_broker: Mosquitto) -> Path:
    """The locked-down broker's log file."""
    return locked_broker.log
