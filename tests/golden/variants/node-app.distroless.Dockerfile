# target: distroless
# warning: gcr.io/distroless/nodejs20-debian12 sets its own ENTRYPOINT; reset so CMD runs as in the original
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
FROM gcr.io/distroless/nodejs20-debian12
ENTRYPOINT []
COPY --from=builder /app /app
WORKDIR /app
EXPOSE 3000
CMD ["node", "dist/server.js"]
USER 65532:65532
