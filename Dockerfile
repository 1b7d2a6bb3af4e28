# One image for every role of the pipeline, chosen by the command it runs:
#   stream · mirror · simulate … · compact --watch · db migrate · web
# Configuration comes from the environment (see the README's configuration table).
#
#   docker build -t cellstream .
#   docker run --rm cellstream stream --help
ARG BASE=node:24-bookworm-slim

# Production dependencies and tini. The only stage that downloads: behind a proxy that
# re-signs HTTPS, give its CA certificates as the build secret `ca-certificates` (a PEM
# bundle); a secret is never stored in a layer.
FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the native modules (classic-level, DuckDB) ship prebuilt binaries.
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-certificates; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --cache /tmp/npm-cache \
 && rm -rf /tmp/npm-cache

FROM ${BASE}
# tini as PID 1 passes SIGTERM on, so that `stream` commits and leaves its group, and
# reaps whatever the process leaves behind.
COPY --from=build /usr/bin/tini-static /usr/bin/tini
RUN groupadd --gid 10001 cellstream \
 && useradd --uid 10001 --gid cellstream --no-create-home --home-dir /app --shell /usr/sbin/nologin cellstream \
 && mkdir -p /data/state /data/archive \
 && chown -R cellstream:cellstream /data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY deploy/healthcheck.ts ./deploy/healthcheck.ts
ENV NODE_ENV=production \
    CELLSTREAM_STATE_DIR=/data/state \
    CELLSTREAM_ARCHIVE_DIR=/data/archive \
    CELLSTREAM_HTTP_HOST=0.0.0.0 \
    CELLSTREAM_HTTP_PORT=8080
# Numeric, so that Kubernetes can check runAsNonRoot.
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "deploy/healthcheck.ts"]
ENTRYPOINT ["tini", "--", "node", "bin/cellstream.ts"]
CMD ["--help"]
