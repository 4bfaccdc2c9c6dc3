# target: alpine
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
FROM node:20-alpine
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci && npm cache clean --force
COPY . .
RUN npm run build
EXPOSE 3000
CMD node dist/server.js
