# fc-local in a container. Build it with scripts/build-fc-local-image.sh, which prepares the
# context (the packed fc-local with its production dependencies, and a Node.js 20 binary) so that
# the build needs no registry: the base is the offline runtime image by default.
#   docker run --rm -it --network host -v "$PWD:/project" -v /var/run/docker.sock:/var/run/docker.sock \
#     fc-local/fc-local:dev start
# --network host: instance ports are published on the host's 127.0.0.1, which fc-local must reach.
ARG BASE=fc-local/runtime:offline-6
FROM ${BASE}
COPY node /usr/local/bin/node
COPY package/ /opt/fc-local/
WORKDIR /project
ENTRYPOINT ["/usr/local/bin/node", "/opt/fc-local/bin/fc-local.js"]
CMD ["--help"]
