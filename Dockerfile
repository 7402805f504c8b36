# syntax=docker/dockerfile:1
# Cueroom server. The server runs from TypeScript through tsx (a runtime dependency), so
# there is no compile stage: one stage installs production dependencies, the other runs.

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-slim
WORKDIR /app
# A container must listen beyond its own loopback; the rest comes from the environment.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# Runs as the image's unprivileged `node` user; only the data folder is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# node:20-slim has no curl; Node 20's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `npm start` is `tsx server/main.ts`; npm and tsx both pass SIGTERM on to the server,
# which then shuts down in order within SHUTDOWN_GRACE_MS.
CMD ["npm", "start"]
