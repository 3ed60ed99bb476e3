# syntax=docker/dockerfile:1
# aiopsd as a container image: a Rust build stage, an Ansible venv stage, and a small
# Debian runtime that runs as a non-root user with a read-only root filesystem (everything
# the daemon writes is under /var/lib/aiops, a volume).
#
#   docker build -t aiops/aiopsd:latest .
#   docker run --read-only --tmpfs /tmp -v aiops-data:/var/lib/aiops \
#       -v ./aiopsd.toml:/etc/aiops/aiopsd.toml:ro -p 127.0.0.1:30080:30080 aiops/aiopsd:latest
#
# Not built in this repository's CI: no container runtime or image registry is reachable
# there. crates/aiopsd/tests/deploy.rs checks what can be checked without building it: the
# pinned Ansible versions match bootstrap/lib.sh, the port matches the daemon's default,
# and the paths match deploy/compose/aiopsd.toml.

# Versions of the Python side of the executor: the pins of bootstrap/lib.sh.
ARG ANSIBLE_CORE_VERSION=2.19.14
ARG DNSPYTHON_VERSION=2.7.0

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole workspace (crates, the e2e package, the policies, prompts and catalog that are
# compiled into the binary); .dockerignore keeps the rest out.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p aiopsd -p aiops-cli \
    && install -D -m 0755 target/release/aiopsd /out/aiopsd \
    && install -D -m 0755 target/release/aiops /out/aiops

# ansible-core and dnspython in a venv with the same interpreter as the runtime (both
# stages are Debian bookworm: /usr/bin/python3), so the venv works when copied.
FROM debian:bookworm-slim AS ansible
ARG ANSIBLE_CORE_VERSION
ARG DNSPYTHON_VERSION
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/aiops/ansible-venv \
    && /opt/aiops/ansible-venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        "ansible-core==${ANSIBLE_CORE_VERSION}" "dnspython==${DNSPYTHON_VERSION}" \
    && /opt/aiops/ansible-venv/bin/ansible-playbook --version

FROM debian:bookworm-slim
# python3: Ansible's controller and the interpreter of its local modules (the venv's);
# openssh-client: Ansible's connection to remote hosts; ca-certificates: TLS to Vault,
# Slack and a Qdrant or Ollama behind TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 aiops \
    && useradd --system --uid 10001 --gid aiops --home-dir /var/lib/aiops --no-create-home \
        --shell /usr/sbin/nologin aiops \
    && install -d -o aiops -g aiops -m 0700 /var/lib/aiops \
    && install -d -m 0755 /etc/aiops
COPY --from=ansible /opt/aiops/ansible-venv /opt/aiops/ansible-venv
COPY --from=build /out/aiopsd /out/aiops /usr/local/bin/
# The allow-listed playbooks and their module (what bootstrap/install.sh installs too).
COPY deploy/ansible /usr/local/share/aiops/ansible

# The config is mounted here (deploy/compose/aiopsd.toml is one; its data_dir is the
# volume); AIOPS_* variables override it. Backtraces of errors the policy engine discards are costly: off.
ENV AIOPS_CONFIG=/etc/aiops/aiopsd.toml \
    RUST_LIB_BACKTRACE=0 \
    HOME=/var/lib/aiops
VOLUME ["/var/lib/aiops"]
WORKDIR /var/lib/aiops
USER 10001:10001
EXPOSE 30080
# Liveness through the image's own Python (no HTTP client is installed).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:30080/healthz', timeout=3)"]
# SIGTERM drains in-flight requests (api.request_timeout_secs): give it time (docker stop -t 330).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/aiopsd"]
CMD ["serve"]
