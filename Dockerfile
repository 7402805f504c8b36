# syntax=docker/dockerfile:1
# Cueroom server. The server runs from TypeScript through tsx (a runtime dependency); the
# only build is the web console (Vite, a dev dependency), made in its own stage.

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY shared ./shared
COPY server/domain ./server/domain
COPY web-console ./web-console
RUN npm run build:console

FROM node:20-slim
WORKDIR /app
# A container must listen beyond its own loopback; the rest comes from the environment.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY --from=console /app/web-console/dist ./web-console/dist
# Runs as the image's unprivileged `node` user; only the data folder is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# node:20-slim has no curl; Node 20's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The server itself is PID 1, started as `npm start` starts it (package.json) but without
# npm or a shell in front: `docker stop` signals PID 1 only, and neither npm nor sh passes
# SIGTERM on (test/integration/container-command.test.ts runs this line). On SIGTERM the
# server shuts down in order within SHUTDOWN_GRACE_MS. The console is built already.
CMD ["node", "--max-semi-space-size=64", "--import", "tsx", "server/main.ts"]
