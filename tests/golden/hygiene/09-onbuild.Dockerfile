FROM node:20-slim
WORKDIR /app
ONBUILD COPY package.json yarn.lock ./
ONBUILD RUN yarn install --frozen-lockfile
ONBUILD COPY . .
