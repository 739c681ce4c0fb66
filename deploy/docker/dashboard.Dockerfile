# The merchant dashboard on port 3000, a client of the API over HTTP.
# Build from the repository root: docker build -f deploy/docker/dashboard.Dockerfile .
# Runs what `make run` runs (deploy/devstack/src/devstack/services.py); tests/deploy checks it.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# The venv moves to the runtime stage, so: the image's own Python (a downloaded one would stay
# behind in this stage), real file copies, and bytecode compiled once here.
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Third-party dependencies first, from the lock alone: this layer outlives code changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace --package dashboard
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services/dashboard services/dashboard
COPY clients/python clients/python
# Workspace packages as wheels, not editable links: the runtime stage needs the venv alone.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package dashboard

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home --shell /usr/sbin/nologin gateway
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
WORKDIR /app
# Numeric, so an orchestrator can check that it is not root without reading /etc/passwd.
USER 10001:10001
# The service binds 127.0.0.1 unless told otherwise; a container must listen on all.
ENV HOST=0.0.0.0
EXPOSE 3000
CMD ["python", "-m", "dashboard"]
