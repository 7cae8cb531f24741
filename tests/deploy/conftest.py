"""Fixtures: the deployment files set up in a temporary copy, its locked-down broker, and the
images' virtual environments as their Dockerfiles' build stages make them."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.deployment import Deployment, running_broker
from tests.deploy.dockerfiles import run_build_stage
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


@pytest.fixture(scope="session")
def daemon_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The daemon image's /opt/evcsm, built here by the Dockerfile's build stage."""
    return run_build_stage("daemon", tmp_path_factory.mktemp("daemon-image"))


@pytest.fixture(scope="session")
def tui_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard image's /opt/evcsm, built here by the Dockerfile's build stage."""
    return run_build_stage("tui", tmp_path_factory.mktemp("tui-image"))
