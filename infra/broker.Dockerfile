# The mqgate broker image. Build from the repository root:
#   docker build -f infra/broker.Dockerfile -t mqgate-broker .                    # open broker (auth allow-all)
#   docker build -f infra/broker.Dockerfile --target broker-acl \
#     --build-arg ACL_FILE=mqgate.acl.yaml -t mqgate-broker .                      # with an ACL file baked in
# `sst deploy` builds it the same way (infra/broker.ts). The command, health check and paths are also in
# infra/plan/broker.ts; test/infra/dockerfile.test.ts keeps the two in step.

ARG NODE_VERSION=24

# ---- build: `npm run build` bundles the broker (and its dependencies) into dist/broker.mjs --------------------
# Runs on the build machine's own platform: the output is JavaScript, so an arm64 image needs no emulation.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed to bundle (esbuild's binary comes as an optional dependency).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY core ./core
COPY broker ./broker
COPY functions ./functions
RUN npm run build

# ---- jemalloc: Debian's libjemalloc2 for the image's architecture (decision 059) --------------------------------
# Fetched and unpacked on the build machine's own platform (`apt-get download` of the target's package), so that the
# runtime stage runs nothing and an arm64 image still builds on an x86 machine without emulation.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS jemalloc
ARG TARGETARCH
RUN dpkg --add-architecture "$TARGETARCH" \
 && apt-get update \
 && cd /tmp \
 && apt-get download "libjemalloc2:$TARGETARCH" \
 && dpkg-deb -x libjemalloc2_*.deb /tmp/pkg \
 && mkdir -p /out \
 && cp /tmp/pkg/usr/lib/*-linux-gnu/libjemalloc.so.2 /tmp/pkg/usr/share/doc/libjemalloc2/copyright /out/ \
 && rm -rf /var/lib/apt/lists/*

# ---- runtime: Node, the bundle and jemalloc; runs as the image's unprivileged "node" user ---------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# V8's young generation at 8 MiB per semi-space (decision 051; broker/node-flags.ts): with Node 24's own size (up to
# 64 MiB) V8 runs a full GC every few seconds on a broker's heap. One V8 helper thread, not four (decision 056): less
# memory, and a task has half a vCPU. In NODE_OPTIONS, not the command, so that a task's NODE_OPTIONS
# (MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB, infra/plan/broker.ts) replaces it.
ENV NODE_OPTIONS="--max-semi-space-size=8 --v8-pool-size=1"
# Two glibc malloc arenas, not eight per core: V8's helper threads otherwise keep about 10 MiB of freed pages in
# arenas of their own once a fleet has connected (decision 055; broker/node-flags.ts). A task's own value replaces it.
ENV MALLOC_ARENA_MAX=2
# jemalloc in place of glibc's malloc (decision 059; broker/node-flags.ts): it returns freed pages to the system within
# about a second, where glibc keeps about 15 MiB of a broker's. Debian's libjemalloc2 (from the stage above) at one
# path whatever the architecture. A task's own LD_PRELOAD (an empty one too) or MALLOC_CONF replaces these.
COPY --from=jemalloc /out/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2
COPY --from=jemalloc /out/copyright /usr/share/doc/libjemalloc2/copyright
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
ENV MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1
WORKDIR /app
# The source map is not loaded by the broker (no --enable-source-maps: it cost about 50 MB per broker, decision 058);
# `node dist/stack.mjs < trace.txt` maps a logged stack trace's positions to the sources with it.
COPY --from=build /src/dist/broker.mjs /src/dist/broker.mjs.map /src/dist/stack.mjs ./dist/
COPY infra/broker-healthcheck.mjs ./healthcheck.mjs
USER node
# MQTT over TCP, MQTT over WebSocket (path /mqtt). TLS is terminated by the load balancer.
EXPOSE 1883 8083
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/broker.mjs"]

# ---- broker-acl: the runtime plus an ACL file (auth.mode acl); the environment selects it ------------------------
# infra/plan/broker.ts sets MQGATE_AUTH_MODE=acl and MQGATE_ACL_FILE=/app/config/<file name>.
FROM runtime AS broker-acl
ARG ACL_FILE=mqgate.acl.yaml
COPY ${ACL_FILE} /app/config/

# ---- broker (default target): the runtime alone ------------------------------------------------------------
FROM runtime AS broker
