# The qbsync worker image used by docker-compose.yml. Sources run through tsx, as in development.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
# The workflow bundle, built once into the image: a worker then starts without running webpack.
RUN node bin/qbsync.js build-workflows
ENTRYPOINT ["node", "bin/qbsync.js"]
CMD ["worker"]
