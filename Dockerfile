# The image behind action.yml (`runs.using: docker`): policy-check, bitnet-engine,
# git and a Rust toolchain, with `policy-check action` as the entry point.
# The runner builds it with `docker build` from this directory on every job; the
# same file builds anywhere else with `docker build -t receipt-action .`.

# Both stages start from the official Rust image (Debian bookworm, rustup's
# minimal profile, gcc + libc6-dev as the linker). BASE_IMAGE lets a machine
# without registry access build from a locally made base of the same content.
ARG BASE_IMAGE=rust:1.95-slim-bookworm

# ---- builder: the two release binaries, exactly as CI builds them ----------
FROM ${BASE_IMAGE} AS builder
WORKDIR /src
# Only what the build reads: the workspace manifest, the lock file, the two
# crates (.dockerignore keeps target/ and .git out). No dependency-cache layer
# or BuildKit cache mount: the runner builds on a fresh machine every job, so
# neither would ever be warm there.
COPY Cargo.toml Cargo.lock ./
COPY policy policy
COPY engine engine
# --locked: the image is built from the versions in Cargo.lock, never newer ones.
# No target-cpu=native: the engine picks its SIMD kernels at run time, and the
# image may run on a different CPU than the one that built it.
RUN cargo build --release --locked -p receipt-policy -p bitnet-engine \
    && install -d /out \
    && install -m 0755 target/release/policy-check target/release/bitnet-engine /out/

# ---- runtime ----------------------------------------------------------------
# Why the Rust image and not debian:bookworm-slim plus apt's cargo: `engine:
# command` builds the user's engine inside this container, and bookworm's rustc
# (1.63) cannot build edition-2024 crates such as this repository's. The slim
# Rust image is debian:bookworm-slim plus rustup's minimal profile (rustc, cargo,
# rust-std; no docs, no clippy) and the C linker cargo needs: the smallest image
# that can run a current `cargo build`. Same base as the builder, so the layers
# are shared and downloaded once.
FROM ${BASE_IMAGE}

# git: the claim scanner diffs the PR (`git diff base...head`), and receipts
# record the commit. ca-certificates: HTTPS to the GitHub API and crates.io (the
# base already has it; named so that removing it upstream cannot break us).
# DL3008 (exact apt versions) is ignored on purpose: Debian deletes a superseded
# version from its mirrors when a security update lands, so an exact pin of git
# would break every user's build on git's next security release. The base tag
# fixes the Debian release, which bounds the versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# The runner mounts the checkout at /github/workspace owned by the runner's user,
# not by root, and git (>= 2.35.2, CVE-2022-24765) refuses to read a repository
# owned by someone else: "detected dubious ownership". Trust exactly that path.
# Not `*`: that would also trust any repository a build or bench command creates
# or clones elsewhere in the container (say, a hostile hook in a dependency's
# checkout), which is what the check exists to stop. A checkout into a
# subdirectory (`actions/checkout` with `path:`) needs its own entry; see
# docs/action.md. --system, because the runner sets HOME=/github/home, so a
# --global entry written here would not be read.
RUN git config --system --add safe.directory /github/workspace

COPY --from=builder /out/policy-check /out/bitnet-engine /usr/local/bin/

# No USER: GitHub runs container actions as root (its docs: "Docker actions must
# be run by the default Docker user (root)"), and the workspace and file-command
# mounts are written as root. Non-root is not possible for this image's purpose.
ENTRYPOINT ["policy-check", "action"]
