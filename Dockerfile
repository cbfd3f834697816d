# syntax=docker/dockerfile:1.7
# One image holding the four service binaries (and the DLQ tool); compose picks
# the binary per container with `command:`.
#
# Stages: chef (tooling) -> planner (dependency recipe) -> builder (dependencies
# cached in their own layer, then the workspace) -> runtime (slim, non-root).

ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# mold is configured as the linker in .cargo/config.toml.
RUN apt-get update && apt-get install -y --no-install-recommends mold && rm -rf /var/lib/apt/lists/*
COPY --from=planner /app/recipe.json recipe.json
# This layer changes only when dependencies change.
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked \
      --bin users --bin products --bin orders --bin payments --bin events-dlq

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 shop \
 && useradd --system --uid 10001 --gid shop --home-dir /app --shell /usr/sbin/nologin shop
WORKDIR /app
COPY --from=builder /app/target/release/users /app/target/release/products \
     /app/target/release/orders /app/target/release/payments /app/target/release/events-dlq \
     /usr/local/bin/
USER shop:shop
ENV LOG_FORMAT=json RUST_LOG=info
# Overridden per service by compose (users, products, orders or payments).
CMD ["users"]
