# syntax=docker/dockerfile:1
# Multi-stage: build the native addon (better-sqlite3) and the TypeScript once, ship only what runs.

FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# allowScripts in package.json lets better-sqlite3 compile here (npm >= 11 blocks install scripts otherwise).
RUN npm install -g npm@11 && npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY connectors ./connectors
COPY types ./types
COPY console ./console
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PASSERELLE_HTTP_HOST=0.0.0.0 \
    PASSERELLE_STORE_SQLITE_PATH=/data/passerelle.db
WORKDIR /app
RUN groupadd --system passerelle && useradd --system --gid passerelle --home /app passerelle \
    && mkdir -p /data && chown passerelle:passerelle /data
COPY --from=build --chown=passerelle:passerelle /app/node_modules ./node_modules
COPY --from=build --chown=passerelle:passerelle /app/dist ./dist
COPY --chown=passerelle:passerelle package.json ./
COPY --chown=passerelle:passerelle bin ./bin
COPY --chown=passerelle:passerelle mappings ./mappings
COPY --chown=passerelle:passerelle config ./config
USER passerelle
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/passerelle.js"]
CMD ["serve"]
