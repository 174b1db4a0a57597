# sipwall in a container: run it with the host's network and CAP_NET_ADMIN,
# since it installs iptables rules and binds an NFQUEUE of the host:
#   podman run --rm --network host --cap-add NET_ADMIN --cap-add NET_RAW \
#     -v /etc/sipwall:/etc/sipwall:ro -v /var/lib/sipwall:/var/lib/sipwall \
#     -v /run/sipwall:/run/sipwall sipwall start
#
# BASE is a build argument: no registry is assumed. scripts/make-base-image.sh
# builds a Debian trixie base locally with debootstrap (trixie: Node 20).
ARG BASE=localhost/sipwall-base:trixie

# ---- build: the native addon (node-gyp against libnetfilter_queue/libmnl),
# cap (libpcap), and the TypeScript. Only what runs is copied out.
FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nodejs libnode-dev npm node-gyp make g++ python3 ca-certificates \
      libnetfilter-queue-dev libmnl-dev libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json ./
COPY native ./native
# --ignore-scripts: prepare (tsc over src and tests) waits for the sources;
# the addons are built explicitly below. The host's CA bundle comes in as a
# build secret (scripts/build-image.sh), for registries reached through a TLS
# proxy; it is not stored in any layer.
RUN --mount=type=secret,id=cabundle,target=/run/secrets/cabundle \
    NODE_EXTRA_CA_CERTS=/run/secrets/cabundle npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npx node-gyp rebuild --nodedir=/usr \
 && (cd node_modules/cap && npx node-gyp rebuild --nodedir=/usr) \
 && npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- run: the runtime libraries and tools only.
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nodejs libnetfilter-queue1 libmnl0 libpcap0.8 iptables ipset coreutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/sipwall
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build/Release/sipwall_nfq.node ./build/Release/sipwall_nfq.node
COPY --from=build /src/dist/src ./dist/src
COPY rules ./rules
ENTRYPOINT ["node", "--no-memory-reducer", "/opt/sipwall/dist/src/cli/main.js"]
CMD ["start"]
