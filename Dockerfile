# kubegate's container image.
#
#   docker build -t kubegate .
#   docker run --rm -v "$PWD:/work" kubegate check .
#
# The final image is Debian slim, not distroless: GitLab CI jobs (and GitHub `container:`
# jobs) run their script with the image's shell, so the image needs /bin/sh. kubegate itself
# needs nothing but glibc: no network, no certificates, schemas and rules are embedded.
# Pin the base images by digest (`rust:...@sha256:...`) where you build for production.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src

# Dependencies first, against stub sources: this layer is rebuilt only when Cargo.toml or
# Cargo.lock change, not on every edit of kubegate's own code.
COPY Cargo.toml Cargo.lock ./
COPY xtask/Cargo.toml xtask/
RUN mkdir -p src xtask/src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > xtask/src/main.rs \
    && echo 'fn main() {}' > benches/pipeline.rs \
    && cargo build --release --locked --bin kubegate \
    && rm -rf src xtask/src benches

# Then kubegate. COPY keeps the context's modification times, which can be older than the
# stub build: touch the crate roots so cargo rebuilds them.
COPY build.rs ./
COPY link link
COPY benches benches
COPY xtask xtask
COPY schemas schemas
COPY policies policies
COPY src src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin kubegate \
    && install -D -m 0755 target/release/kubegate /out/kubegate \
    && /out/kubegate --version

FROM debian:${DEBIAN_RELEASE}-slim
LABEL org.opencontainers.image.title="kubegate" \
      org.opencontainers.image.description="A fast merge-request gate for GitOps repositories: Kubernetes schemas, Rego policies and CI-native reports in one pass" \
      org.opencontainers.image.source="https://github.com/kubegate/kubegate" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/kubegate kubegate
COPY --from=build /out/kubegate /usr/local/bin/kubegate
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["kubegate"]
CMD ["check", "."]
