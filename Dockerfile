# The qbsync worker image used by docker-compose.yml. Sources run through tsx, as in development.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
ENTRYPOINT ["node", "bin/qbsync.js"]
CMD ["worker"]
