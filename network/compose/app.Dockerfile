# The Python services of docker-compose.yaml: the REST gateway (python -m vpp_gateway.api, with the web app it
# serves from VPP_WEB_DIR) and the meter edge (python -m vpp_edge ...). Build context: the repository root.
#
#   docker build -f network/compose/app.Dockerfile -t vpp-ledger/app:dev .

# The asset owners' web app, built once (vite) and served by the gateway.
FROM node:22.11.0-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

FROM python:3.11.10-slim-bookworm
WORKDIR /opt/vpp
# Every dependency pinned (requirements.txt), then the project's own packages without dependencies.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY chaincode/runtime /tmp/src/chaincode/runtime
COPY chaincode/pyproject.toml /tmp/src/chaincode/pyproject.toml
COPY chaincode/vpp_contract /tmp/src/chaincode/vpp_contract
COPY gateway /tmp/src/gateway
COPY meter-edge /tmp/src/meter-edge
RUN pip install --no-cache-dir --no-deps /tmp/src/chaincode/runtime /tmp/src/chaincode /tmp/src/gateway \
        /tmp/src/meter-edge && rm -rf /tmp/src
COPY --from=web /web/dist /opt/vpp/web
# State lives in volumes (VPP_DATA_DIR, the edge's outbox and keys), owned by this user.
# (A new named volume takes the ownership of the folder it is mounted on.)
RUN mkdir -p /var/lib/vpp/gateway /var/lib/vpp/edge && chown -R 65534:65534 /var/lib/vpp
USER 65534:65534
ENV VPP_HOST=0.0.0.0 \
    VPP_PORT=8080 \
    VPP_DATA_DIR=/var/lib/vpp/gateway \
    VPP_WEB_DIR=/opt/vpp/web
EXPOSE 8080
CMD ["python", "-m", "vpp_gateway.api"]
