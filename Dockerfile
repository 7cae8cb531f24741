# The EVCSM images: one pattern for the daemon and the dashboard. Build from the repository root,
# which holds the shared contract and the broker link too, naming the program twice (the package
# the build stage installs, and the final stage that runs it):
#   docker build --build-arg PACKAGE=daemon --target daemon -t evcsm-daemon .
#   docker build --build-arg PACKAGE=tui --target tui -t evcsm-tui .
# docker-compose.yml does both. Stage `build` installs the program and its pinned dependencies,
# and nothing of the other, into a virtual environment with uv; the final stage copies that
# environment alone onto a clean slim Python and runs it as an unprivileged user, without
# compiler, pip or uv.

# Pinned to a patch release of Python and of Debian; every stage uses it.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
# The program: daemon or tui (its folder, its requirements/ file and its console script).
ARG PACKAGE=daemon

FROM ${PYTHON_IMAGE} AS build
ARG PACKAGE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Every package, and every package a build runs, is pinned with its hashes in requirements/
# (./dev lock writes it): build.txt holds uv and the build backend, daemon.txt and tui.txt each
# program's dependencies. A source distribution whose backend build.txt lacks fails to build:
# add the backend to requirements/build.in and run ./dev lock.
COPY requirements/build.txt requirements/${PACKAGE}.txt requirements/
RUN pip install --require-hashes --only-binary :all: -r requirements/build.txt
RUN uv venv --python /usr/local/bin/python3 /opt/evcsm \
    && uv pip install --python /opt/evcsm/bin/python --require-hashes -r requirements/${PACKAGE}.txt \
        --build-constraints requirements/build.txt --require-build-hashes
COPY shared/ shared/
COPY link/ link/
COPY ${PACKAGE}/ ${PACKAGE}/
# The contract, the broker link and the program themselves, without their dependencies (installed
# above). --no-sources: the schema and the link are folders here, not workspace members.
RUN uv pip install --python /opt/evcsm/bin/python --no-deps --no-sources \
        --build-constraints requirements/build.txt --require-build-hashes ./shared ./link ./${PACKAGE} \
    && uv pip check --python /opt/evcsm/bin/python

FROM ${PYTHON_IMAGE} AS runtime
# pip, setuptools and wheel are build tools the programs never use.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 evcsm \
    && useradd --system --uid 10001 --gid evcsm --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin evcsm
COPY --from=build /opt/evcsm /opt/evcsm
ENV PATH=/opt/evcsm/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
STOPSIGNAL SIGTERM

# The dashboard, for operators with no Python on the host: `docker compose run --rm tui`.
FROM runtime AS tui
# A target built without PACKAGE=tui has the other program: stop the build here, saying so.
RUN test -x /opt/evcsm/bin/evcsm-tui || { echo "build the tui target with --build-arg PACKAGE=tui" >&2; exit 1; }
ENV COLORTERM=truecolor
ENTRYPOINT ["evcsm-tui"]

# The daemon; the last stage, so a build without --target makes it.
FROM runtime AS daemon
RUN test -x /opt/evcsm/bin/evcsm-daemon || { echo "build the daemon target with --build-arg PACKAGE=daemon" >&2; exit 1; }
ENV EVCSM_HTTP_ADDR=0.0.0.0:5274 \
    EVCSM_LOG_FORMAT=json
EXPOSE 5274
ENTRYPOINT ["evcsm-daemon"]
