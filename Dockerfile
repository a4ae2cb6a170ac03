# embedsync image: the sync daemon and HTTP embedding API in one process.
# Built the way a developer installs and runs it: `ONNXRUNTIME_NODE_INSTALL=skip npm ci`, `npm run build` (src/ to
# dist/), then `node bin/embedsync.js <command>`. The image ships the compiled JavaScript, not the TypeScript sources.

# --- deps: install production dependencies once, with the lock file -------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's postinstall would download CUDA libraries; its CPU binaries ship in the package.
# --ignore-scripts as .npmrc says (spelled out: the build is the build stage's, with the compiler, a dev dependency).
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --ignore-scripts && npm cache clean --force

# --- build: compile src/ to dist/ with the full dependencies ---------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts
COPY src ./src
RUN npm run build

# --- runtime: compiled code + node_modules, non-root -----------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8000 \
    HOME=/home/embedsync \
    EMBEDSYNC_CACHE_DIR=/var/cache/embedsync
RUN groupadd --system --gid 10001 embedsync \
 && useradd --system --uid 10001 --gid embedsync --home-dir /home/embedsync --create-home embedsync \
 && mkdir -p /var/cache/embedsync \
 && chown embedsync:embedsync /var/cache/embedsync
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY sql ./sql
USER embedsync
# Downloaded models live here; mount a volume so a restart does not download them again.
VOLUME ["/var/cache/embedsync"]
EXPOSE 8000
# /ready answers 200 once the model is loaded and warmed up. Slim images have no curl: node's fetch does it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/embedsync.js"]
CMD ["run"]
