# The qbsync worker image used by docker-compose.yml. Sources run through tsx, as in development.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
# The workflow bundle, built once into the image: a worker then starts without running webpack.
RUN node bin/qbsync.js build-workflows
# Two malloc arenas instead of glibc's eight per core: 20–30 MiB less RSS (worker/v8-settings.ts).
ENV MALLOC_ARENA_MAX=2
# A smaller young generation for the main isolate, which only a command-line flag sets: 1M backfill
# peak 265 MiB against 311 (workerNodeFlags in worker/v8-settings.ts).
ENTRYPOINT ["node", "--max-semi-space-size=8", "bin/qbsync.js"]
CMD ["worker"]
