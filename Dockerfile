# Breakerbox: build stage compiles TypeScript; the runtime stage carries only
# production dependencies and dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY gen ./gen
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    BREAKERBOX_HOST=0.0.0.0 \
    BREAKERBOX_GRPC_PORT=50051 \
    BREAKERBOX_HTTP_PORT=8080
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Reflection serves descriptors with doc comments from this file.
COPY --from=build /app/gen/descriptor ./gen/descriptor
EXPOSE 50051 8080
USER node
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
