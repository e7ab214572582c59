// A small line chart of upload and download throughput on a <canvas>.
// The backing store is sized in device pixels so that lines and text stay
// sharp on HiDPI screens; everything is drawn in CSS pixels through the
// context's transform.

import { niceStep, unitFor } from "./format.js";

const minWindow = 60; // seconds: a fresh server still gets a readable axis
const maxWindow = 600; // the API keeps ten minutes
// The server counts a transfer's bytes a chunk (256 KiB) at a time, so a
// transfer slower than a few chunks a second shows as spikes and zeros
// from one second to the next. Each point drawn is the mean of the last
// few seconds, which is the rate a person wants to read.
const smoothSeconds = 5;

export class ThroughputChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.points = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
    // A change of colour scheme or of zoom (devicePixelRatio) needs a
    // redraw with the new palette or backing-store size.
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
    this.watchPixelRatio();
  }

  watchPixelRatio() {
    const mq = matchMedia(`(resolution: ${devicePixelRatio}dppx)`);
    mq.addEventListener("change", () => {
      this.draw();
      this.watchPixelRatio();
    }, { once: true });
  }

  // update takes the API's points: [{t, upload, download}], oldest first.
  update(points) {
    const raw = points.map((p) => ({
      t: Date.parse(p.t) / 1000,
      up: Math.max(0, p.upload || 0),
      down: Math.max(0, p.download || 0),
    })).filter((p) => Number.isFinite(p.t));
    this.points = smooth(raw);
    this.draw();
  }

  // latest is the newest (smoothed) point, or zeros.
  latest() {
    return this.points[this.points.length - 1] || { up: 0, down: 0 };
  }

  draw() {
    const canvas = this.canvas;
    const cssWidth = canvas.clientWidth;
    const cssHeight = canvas.clientHeight;
    if (cssWidth === 0 || cssHeight === 0) {
      return; // hidden
    }
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(cssWidth * dpr);
    const h = Math.round(cssHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssWidth, cssHeight);

    const style = getComputedStyle(canvas);
    const color = (name) => style.getPropertyValue(name).trim();
    const font = `12px ${style.fontFamily}`;
    ctx.font = font;

    const pts = this.points;
    const end = pts.length ? pts[pts.length - 1].t : Date.now() / 1000;
    const span = pts.length ? end - pts[0].t : 0;
    const windowSeconds = Math.min(maxWindow, Math.max(minWindow, Math.ceil(span / 30) * 30));
    const start = end - windowSeconds;
    const visible = pts.filter((p) => p.t >= start);

    let max = 0;
    for (const p of visible) {
      max = Math.max(max, p.up, p.down);
    }
    // The y axis counts in one binary unit, with round steps in it; when
    // the rounded top reaches a thousand of them ("1500 KiB/s"), in the
    // next unit up.
    const base = max > 0 ? max : 1024;
    let unit = unitFor(base);
    let step = niceStep(base / unit.div, 4) * unit.div;
    let top = Math.max(step, Math.ceil(max / step) * step);
    if (top / unit.div >= 1000) {
      unit = unitFor(unit.div * 1024);
      step = niceStep(base / unit.div, 4) * unit.div;
      top = Math.max(step, Math.ceil(max / step) * step);
    }

    const labels = [];
    for (let v = 0; v <= top + step / 2; v += step) {
      labels.push(v);
    }
    const labelWidth = Math.max(...labels.map((v) => ctx.measureText(axisLabel(v, unit)).width));
    const left = Math.ceil(labelWidth) + 10;
    const right = 8;
    const topPad = 8;
    const bottom = 22;
    const plotW = cssWidth - left - right;
    const plotH = cssHeight - topPad - bottom;
    if (plotW <= 0 || plotH <= 0) {
      return;
    }
    const x = (t) => left + ((t - start) / windowSeconds) * plotW;
    const y = (v) => topPad + plotH - (v / top) * plotH;
    // Half-pixel offsets put 1px lines on whole device pixels at dpr 1.
    const crisp = (c) => Math.round(c * dpr) / dpr + 0.5 / dpr;

    // Horizontal grid and y labels.
    ctx.lineWidth = 1 / dpr;
    ctx.strokeStyle = color("--grid");
    ctx.fillStyle = color("--muted");
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of labels) {
      const yy = crisp(y(v));
      ctx.beginPath();
      ctx.moveTo(left, yy);
      ctx.lineTo(left + plotW, yy);
      ctx.stroke();
      ctx.fillText(axisLabel(v, unit), left - 6, y(v));
    }

    // Time labels: about four to eight of them whatever the window.
    const tickEvery = windowSeconds <= 60 ? 15 : windowSeconds <= 180 ? 30 : windowSeconds <= 300 ? 60 : 120;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let ago = 0; ago <= windowSeconds; ago += tickEvery) {
      const xx = x(end - ago);
      const text = ago === 0 ? "now" : ago < 60 ? `−${ago} s` : `−${ago / 60} min`;
      const tw = ctx.measureText(text).width;
      const cx = Math.min(Math.max(xx, left + tw / 2), left + plotW - tw / 2);
      ctx.fillText(text, cx, topPad + plotH + 6);
      const gx = crisp(xx);
      ctx.beginPath();
      ctx.moveTo(gx, topPad);
      ctx.lineTo(gx, topPad + plotH);
      ctx.stroke();
    }

    const series = [
      { key: "down", color: color("--download") },
      { key: "up", color: color("--upload") },
    ];
    for (const s of series) {
      if (visible.length === 0) {
        break;
      }
      ctx.beginPath();
      visible.forEach((p, i) => {
        if (i === 0) {
          ctx.moveTo(x(p.t), y(p[s.key]));
        } else {
          ctx.lineTo(x(p.t), y(p[s.key]));
        }
      });
      ctx.lineWidth = 2;
      ctx.lineJoin = "round";
      ctx.strokeStyle = s.color;
      ctx.stroke();
      // A faint fill under the line makes the two series easy to tell
      // apart where they cross.
      ctx.lineTo(x(visible[visible.length - 1].t), y(0));
      ctx.lineTo(x(visible[0].t), y(0));
      ctx.closePath();
      ctx.globalAlpha = 0.12;
      ctx.fillStyle = s.color;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
  }
}

// smooth replaces each point's rates by their mean over the points of the
// smoothSeconds before it (itself included).
function smooth(points) {
  const out = [];
  let first = 0;
  let up = 0;
  let down = 0;
  for (const p of points) {
    up += p.up;
    down += p.down;
    while (points[first].t <= p.t - smoothSeconds) {
      up -= points[first].up;
      down -= points[first].down;
      first++;
    }
    const n = out.length + 1 - first;
    out.push({ t: p.t, up: Math.max(0, up / n), down: Math.max(0, down / n) });
  }
  return out;
}

function axisLabel(v, unit) {
  if (v === 0) {
    return "0";
  }
  const n = v / unit.div;
  return `${Number(n.toFixed(2))} ${unit.name}/s`;
}
