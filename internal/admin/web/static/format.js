// Human-readable numbers for the dashboard. Sizes use binary units because
// that is what FTP clients and ls -h show for the same files.

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

// unitFor returns the index into units and the divisor that suit n.
export function unitFor(n) {
  let i = 0;
  let div = 1;
  while (Math.abs(n) >= div * 1024 && i < units.length - 1) {
    div *= 1024;
    i++;
  }
  return { name: units[i], div };
}

// bytes formats a size: "512 B", "1.5 KiB", "23.4 MiB", "118 GiB".
export function bytes(n) {
  if (!Number.isFinite(n) || n < 0) {
    return "–";
  }
  const u = unitFor(n);
  const v = n / u.div;
  if (u.div === 1) {
    return `${Math.round(v)} B`;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${u.name}`;
}

export function rate(bytesPerSecond) {
  return `${bytes(bytesPerSecond)}/s`;
}

// duration formats seconds with the two largest units: "45 s",
// "3 min 12 s", "2 h 5 min", "4 d 3 h".
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} min ${s % 60} s`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return `${h} h ${m % 60} min`;
  }
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// ago formats how long ago something was, coarsely: "just now",
// "40 s ago", "3 min ago", "2 h ago", "5 d ago".
export function ago(seconds) {
  const s = Math.floor(seconds);
  if (s < 5) {
    return "just now";
  }
  if (s < 60) {
    return `${s} s ago`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m} min ago`;
  }
  const h = Math.floor(m / 60);
  if (h < 48) {
    return `${h} h ago`;
  }
  return `${Math.floor(h / 24)} d ago`;
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that
// splits span into about count intervals.
export function niceStep(span, count) {
  if (!(span > 0)) {
    return 1;
  }
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) {
    if (raw <= m * pow) {
      return m * pow;
    }
  }
  return 10 * pow;
}
