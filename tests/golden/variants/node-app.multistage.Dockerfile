# target: multistage
FROM node:20 AS builder
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci && npm cache clean --force
COPY . .
RUN npm run build
EXPOSE 3000
CMD node dist/server.js
RUN npm prune --omit=dev && npm cache clean --force

# runtime stage added by imgopt: only what the program needs to run
FROM node:20-slim
RUN useradd -l -m -u 10001 app
COPY --from=builder /app /app
WORKDIR /app
EXPOSE 3000
CMD node dist/server.js
USER app
