# target: slim
# warning: a -slim base lacks compilers, -dev headers, man pages and some tools of the full image
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci && npm cache clean --force
COPY . .
RUN npm run build
EXPOSE 3000
CMD node dist/server.js
