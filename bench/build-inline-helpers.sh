#!/bin/sh
# Builds the C helpers of the inline benchmark (bench/inline-bench.ts) into
# build/bench/: the packet generator (sip-flood), the UDP sink (sip-sink) and
# the baseline NFQUEUE consumer (nfq-consumer, by its own script). Same
# warnings policy as the addon. Needs a C compiler, libnetfilter-queue-dev
# and libmnl-dev.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/build/bench"
for prog in sip-flood sip-sink; do
  ${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror \
    -o "$root/build/bench/$prog" "$root/bench/$prog.c"
done
sh "$root/bench/build-nfq-consumer.sh" >/dev/null
echo "$root/build/bench: sip-flood sip-sink nfq-consumer"
