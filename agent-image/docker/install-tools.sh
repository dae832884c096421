#!/bin/sh
# Installs the tools of tools.txt that this image lacks, from Debian's packages, and nothing when all
# are there: on the local base (build-base-image.mjs) this is a no-op, which is what lets the agent
# image build with no network at all; on the public node:22-bookworm-slim it installs them with apt.
set -eu
here="$(dirname "$0")"
missing=""
for package in $(sed 's/#.*//' "$here/tools.txt"); do
  if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $package"
  fi
done
if [ -z "$missing" ]; then
  echo "tools: all present"
  exit 0
fi
echo "tools: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $missing
apt-get clean
rm -rf /var/lib/apt/lists/*
