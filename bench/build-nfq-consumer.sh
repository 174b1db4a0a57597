#!/bin/sh
# Builds the baseline NFQUEUE consumer (bench/nfq-consumer.c) into
# build/bench/nfq-consumer, with the same warnings policy as the addon.
# Needs libnetfilter-queue-dev and libmnl-dev.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/build/bench"
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror \
  -o "$root/build/bench/nfq-consumer" "$root/bench/nfq-consumer.c" \
  -lnetfilter_queue -lmnl
echo "$root/build/bench/nfq-consumer"
