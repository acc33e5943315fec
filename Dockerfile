# syntax=docker/dockerfile:1
# EmailGator in one image: `emailgator serve` by default, `emailgator sidecar` (the browser agent) by
# overriding the command. Build: docker build --build-arg GIT_SHA=$(git rev-parse HEAD) -t emailgator .

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- build ------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies first, against stub sources: this layer is rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock build.rs ./
# Build settings: the bundled SQLite's compile flags.
COPY .cargo .cargo
RUN mkdir -p src migrations templates assets \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/.fingerprint/emailgator-* target/release/deps/emailgator-* target/release/deps/libemailgator-*

# Then the application itself. The release profile strips the binary (Cargo.toml: strip = true).
COPY src src
COPY migrations migrations
COPY templates templates
COPY assets assets
ARG GIT_SHA=""
ENV GIT_SHA=${GIT_SHA}
RUN cargo build --release --locked --bin emailgator \
 && cp target/release/emailgator /usr/local/bin/emailgator

# --- runtime ----------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# chromium + chromium-driver for the unsubscribe agent, fonts so pages render, libpq for PostgreSQL,
# curl for HEALTHCHECK, tini to reap the browser's child processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates chromium chromium-driver curl fonts-liberation fonts-noto-cjk fonts-noto-color-emoji \
      libpq5 tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 emailgator \
 && useradd --system --uid 10001 --gid emailgator --home-dir /data --shell /usr/sbin/nologin emailgator \
 && mkdir -p /data \
 && chown emailgator:emailgator /data
COPY --from=build /usr/local/bin/emailgator /usr/local/bin/emailgator

ENV EMAILGATOR__SERVER__HOST=0.0.0.0 \
    PORT=8080 \
    EMAILGATOR__DATA_DIR=/data
WORKDIR /data
USER emailgator:emailgator
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/health" > /dev/null || exit 1
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["emailgator", "serve"]
