# Production image of Kiln (API and, later, workers).
FROM node:20-bookworm-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY src ./src
COPY migrations ./migrations
COPY bin ./bin
ENV KILN_DATA_DIR=/data KILN_HOST=0.0.0.0 PORT=8080
VOLUME /data
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/main.ts"]
