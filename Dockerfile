# Production image of Kiln (API and, later, workers).
FROM node:20-bookworm-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY migrations ./migrations
COPY migrations-pg ./migrations-pg
COPY bin ./bin
RUN npm run build && npm prune --omit=dev
ENV KILN_DATA_DIR=/data KILN_HOST=0.0.0.0 PORT=8080
VOLUME /data
EXPOSE 8080
CMD ["bin/kiln-server"]
