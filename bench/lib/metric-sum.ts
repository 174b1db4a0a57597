// Reads one metric out of a Prometheus text exposition (sipwall's /metrics):
// the sum of every series of `name` whose labels contain `labels`. Enough
// for the benches, which compare counters before and after a phase.

export function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
